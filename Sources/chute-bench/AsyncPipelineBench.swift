import ChuteAsync
import ChuteCore
import ChuteStore
import ChuteWorkers
import Foundation
import Glibc
import Synchronization

/// The asynchronous pipeline end to end on the embedded store: events accepted durably (the 202
/// point), run on the no-op handler, their invocation records committed to a destination queue.
extension ChuteBench {
    final class Directory: AsyncFunctionDirectory, @unchecked Sendable {
        let function: AsyncFunction
        init(_ function: AsyncFunction) { self.function = function }
        func function(named name: String) -> AsyncFunction? { name == function.name ? function : nil }
    }

    struct Pipeline: Sendable {
        let store: SQLiteAsyncEventStore
        let dispatcher: AsyncDispatcher
        let pool: any FunctionPool
        let path: String
    }

    func makePipeline(_ library: String, isolation: Isolation, handOver: Bool) async throws -> Pipeline {
        let path = NSTemporaryDirectory() + "chute-bench-\(RequestID.make()).sqlite"
        let store = try SQLiteAsyncEventStore(path: path)
        try await store.createQueue("done")
        let pool = try await pool(library, isolation, concurrency: 2)
        let function = AsyncFunction(name: "noop", arn: "arn:aws:lambda:us-east-1:000000000000:function:noop", pool: pool, concurrency: 2,
                                     invokeConfig: EventInvokeConfig(onSuccess: "arn:aws:sqs:us-east-1:000000000000:done"))
        let dispatcher = AsyncDispatcher(store: store, directory: Directory(function), owner: "bench", claimLimit: 1024,
                                         handsOverAcceptedEvents: handOver)
        return Pipeline(store: store, dispatcher: dispatcher, pool: pool, path: path)
    }

    static func wallMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    func measureAsyncPipeline(_ library: String, _ report: inout BenchReport) async throws {
        report.line("# chute-bench --suite async: \(events) events per throughput run, \(rounds) rounds, no-op handler, SQLite (WAL, synchronous=FULL)")
        report.line("")
        try await measureStore(&report)
        report.line("## Throughput: accepted durably -> executed -> record durable in a destination queue (events/s, median of \(rounds))")
        report.line("| isolation | accepted events reach the dispatcher by | accept only (batches of 1,000) | end to end (batches of 1,000) | end to end (one event per accept, 256 callers) | SQLite writer, batches of 1,000: busy share of the run, CPU µs per event |")
        report.line("|---|---|---|---|---|---|")
        for isolation in [Isolation.thread, .process] {
            for handOver in [true, false] {
                var acceptRates: [Double] = []
                var batchedRates: [Double] = []
                var singleRates: [Double] = []
                var busyShares: [Double] = []
                var writerCPU: [Double] = []
                for _ in 0..<rounds {
                    let (accept, endToEnd, writer) = try await throughput(library, isolation, handOver: handOver, batch: 1_000, callers: 4)
                    acceptRates.append(accept)
                    batchedRates.append(endToEnd)
                    busyShares.append(writer.busyShare)
                    writerCPU.append(writer.cpuMicrosecondsPerEvent)
                    singleRates.append(try await throughput(library, isolation, handOver: handOver, batch: 1, callers: 256).endToEnd)
                }
                report.line("| \(isolation) | \(Self.route(handOver)) | \(Measure.rate(Measure.median(acceptRates))) | \(Measure.rate(Measure.median(batchedRates))) | \(Measure.rate(Measure.median(singleRates))) | \(Int((Measure.median(busyShares) * 100).rounded()))%, \(Measure.format(Measure.median(writerCPU), digits: 1)) |")
            }
        }
        report.line("")
        report.line("## Latency at a fixed rate: accept returned -> record received from the destination queue (ms)")
        report.line("| isolation | accepted events reach the dispatcher by | rate (events/s) | events | p50 | p99 | max |")
        report.line("|---|---|---|---|---|---|---|")
        let fixedRates = rates.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        for isolation in [Isolation.thread, .process] {
            for rate in fixedRates {
                for handOver in [true, false] {
                    let latencies = try await latency(library, isolation, handOver: handOver, rate: rate)
                    let ms = { (value: Int64) in Measure.format(Double(value) / 1e6, digits: 2) }
                    report.line("| \(isolation) | \(Self.route(handOver)) | \(Measure.rate(Double(rate))) | \(latencies.count) | \(ms(Measure.percentile(latencies, 0.5))) | \(ms(Measure.percentile(latencies, 0.99))) | \(ms(latencies.max() ?? 0)) |")
                }
            }
        }
        report.line("")
    }

    /// Accepts `events` in batches from `callers` concurrent tasks while the dispatcher runs;
    /// returns the accept rate and the rate until the last record is in the queue.
    static func route(_ handOver: Bool) -> String { handOver ? "hand-over (claims for the overflow)" : "claims only" }

    private func throughput(_ library: String, _ isolation: Isolation, handOver: Bool, batch: Int, callers: Int) async throws -> (accept: Double, endToEnd: Double, writer: WriterLoad) {
        let pipeline = try await makePipeline(library, isolation: isolation, handOver: handOver)
        defer { try? FileManager.default.removeItem(atPath: pipeline.path) }
        let runner = Task { await pipeline.dispatcher.run(pollMilliseconds: 5, clock: Self.wallMilliseconds) }
        let total = events
        let start = Measure.now()
        try await Self.acceptNoopEvents(total, batch: batch, callers: callers) { _, chunk in try await pipeline.dispatcher.accept(chunk) }
        let accepted = Measure.now()
        // Settled counts results once their transaction committed; every event succeeds, so that
        // is when its record is durable in the queue (checked once at the end).
        while pipeline.dispatcher.statistics.eventsSettled < total {
            try await Task.sleep(for: .milliseconds(2))
        }
        let finished = Measure.now()
        let writer = pipeline.store.writerStatistics
        let delivered = try await pipeline.store.queue("done", now: Self.wallMilliseconds())?.visibleMessages ?? 0
        guard delivered == total else { throw BenchError("expected \(total) records in the destination queue, found \(delivered)") }
        runner.cancel()
        await runner.value
        await pipeline.pool.shutdown()
        return (Double(total) / (Double(accepted - start) / 1e9), Double(total) / (Double(finished - start) / 1e9),
                WriterLoad(busyShare: Double(writer.busyNanoseconds) / Double(finished - start),
                           cpuMicrosecondsPerEvent: Double(writer.cpuNanoseconds) / 1e3 / Double(total)))
    }

    /// `callers` tasks accept `total` no-op events in batches of `batch`; `accept` gets each
    /// batch with its number.
    static func acceptNoopEvents(_ total: Int, batch: Int, callers: Int,
                                 accept: @escaping @Sendable (Int, [AsyncEvent]) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<callers {
                group.addTask {
                    var next = caller * batch
                    while next < total {
                        let now = Self.wallMilliseconds()
                        let chunk = (next..<min(total, next + batch)).map { _ in
                            AsyncEvent(requestID: RequestID.makeTimeOrdered(milliseconds: now), functionName: "noop", payload: Array("{}".utf8),
                                       receivedAtMilliseconds: now)
                        }
                        try await accept(next / batch, chunk)
                        next += callers * batch
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// How much of a run the store's single writer was busy, and its CPU time per event.
    struct WriterLoad {
        var busyShare: Double
        var cpuMicrosecondsPerEvent: Double
    }

    /// Accepts one event at a time at `rate` for `latencySeconds`, and reads the destination queue
    /// as it fills: each record's latency is from its accept returning to its receipt.
    private func latency(_ library: String, _ isolation: Isolation, handOver: Bool, rate: Int) async throws -> [Int64] {
        let pipeline = try await makePipeline(library, isolation: isolation, handOver: handOver)
        defer { try? FileManager.default.removeItem(atPath: pipeline.path) }
        let runner = Task { await pipeline.dispatcher.run(pollMilliseconds: 5, clock: Self.wallMilliseconds) }
        let total = Int(Double(rate) * latencySeconds)
        let acceptedAt = AcceptTimes()
        // Records are matched to accept times afterwards: a record can arrive before its
        // accepting task has noted the time.
        let reader = Task { () -> [(String, Int64)] in
            var receipts: [(String, Int64)] = []
            receipts.reserveCapacity(total)
            let deadline = Measure.now() + Int64((latencySeconds + 30) * 1e9)
            while receipts.count < total && Measure.now() < deadline {
                let messages = (try? await pipeline.store.receive(from: "done", limit: 256, visibilityMilliseconds: 3_600_000,
                                                                  now: Self.wallMilliseconds())) ?? []
                let received = Measure.now()
                for message in messages {
                    let body = String(decoding: message.message.body, as: UTF8.self)
                    guard let range = body.range(of: #""requestId":""#) else { continue }
                    receipts.append((String(body[range.upperBound...].prefix { $0 != "\"" }), received))
                }
                if messages.isEmpty { try? await Task.sleep(for: .microseconds(500)) }
            }
            return receipts
        }
        let interval = 1e9 / Double(rate)
        let start = Measure.now()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<total {
                let due = start + Int64(Double(index) * interval)
                let wait = due - Measure.now()
                if wait > 200_000 { try await Task.sleep(for: .nanoseconds(wait)) }
                group.addTask {
                    let id = "l\(index)"
                    try await pipeline.dispatcher.accept([AsyncEvent(requestID: id, functionName: "noop", payload: Array("{}".utf8),
                                                                     receivedAtMilliseconds: Self.wallMilliseconds())])
                    let accepted = Measure.now()
                    acceptedAt.times.withLock { $0[id] = accepted }
                }
            }
            try await group.waitForAll()
        }
        let accepted = acceptedAt.times.withLock { $0 }
        let latencies = await reader.value.compactMap { id, received in accepted[id].map { received - $0 } }
        runner.cancel()
        await runner.value
        await pipeline.pool.shutdown()
        return latencies
    }
}

/// When each event's accept returned, by request id.
final class AcceptTimes: Sendable {
    let times = Mutex<[String: Int64]>([:])
}

/// A run that did not do what it measured.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
