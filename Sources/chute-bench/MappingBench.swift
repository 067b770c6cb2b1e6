import ChuteAsync
import ChuteCore
import ChuteStore
import ChuteWorkers
import Foundation
import Logging
import Synchronization

/// Stream event source mappings on the embedded store: records/s through a mapping (batch 100,
/// the no-op handler) for 1 and 4 shards, and put → handler latency at a fixed rate with
/// batching window 0.
extension ChuteBench {
    func measureMappings(_ library: String, _ report: inout BenchReport) async throws {
        report.line("# chute-bench --suite mappings: \(events) records per throughput run, \(rounds) rounds, batch 100, no-op handler "
                    + "(thread isolation, concurrency = shards), SQLite (WAL, synchronous=FULL)")
        report.line("")
        report.line("| shards | records/s through the mapping (median of \(rounds)) | batches/s |")
        report.line("|---|---|---|")
        for shards in [1, 4] {
            var rates: [Double] = []
            for _ in 0..<rounds { rates.append(try await mappingThroughput(library, shards: shards)) }
            let rate = Measure.median(rates)
            report.line("| \(shards) | \(Measure.rate(rate)) | \(Measure.rate(rate / 100)) |")
        }
        report.line("")
        report.line("| rate (records/s, 4 shards, window 0) | records | put → handler p50 | p99 | max |")
        report.line("|---|---|---|---|---|")
        for rate in rates.split(separator: ",").compactMap({ Int($0) }) {
            let latencies = try await mappingLatency(library, shards: 4, rate: rate)
            report.line("| \(Measure.rate(Double(rate))) | \(latencies.count) | \(Measure.format(Double(Measure.percentile(latencies, 0.5)) / 1e6, digits: 2)) ms "
                        + "| \(Measure.format(Double(Measure.percentile(latencies, 0.99)) / 1e6, digits: 2)) ms "
                        + "| \(Measure.format(Double(latencies.max() ?? 0) / 1e6, digits: 2)) ms |")
        }
        report.line("")
    }

    private struct MappingRig {
        let store: SQLiteAsyncEventStore
        let supervisor: MappingSupervisor
        let mapping: EventSourceMapping
        let pool: any FunctionPool
        let path: String
    }

    private func mappingRig(_ library: String, shards: Int, batchInvoked: (@Sendable ([StreamRecord]) -> Void)? = nil) async throws -> MappingRig {
        let path = NSTemporaryDirectory() + "chute-bench-mappings-\(RequestID.make()).sqlite"
        let store = try SQLiteAsyncEventStore(path: path)
        _ = try await store.createStream("bench", shardCount: shards, retentionHours: 24, now: Self.wallMilliseconds())
        let pool = try await pool(library, .thread, concurrency: shards)
        let function = AsyncFunction(name: "noop", arn: "arn:aws:lambda:us-east-1:000000000000:function:noop", pool: pool, concurrency: shards)
        var logger = Logger(label: "chute.bench")
        logger.logLevel = .error
        let context = MappingContext(store: store, directory: Directory(function), router: MessageRouter(directory: NoMessaging()), owner: "bench",
                                     clock: Self.wallMilliseconds, logger: logger, batchInvoked: batchInvoked)
        let supervisor = MappingSupervisor(context: context, digests: QueueDigests(body: { _ in "" }, attributes: { _ in "" }))
        var settings = EventSourceMappingSettings(source: .stream)
        settings.startingPosition = .trimHorizon
        let mapping = EventSourceMapping(uuid: RequestID.make(), functionName: "noop",
                                         eventSourceARN: "arn:aws:kinesis:us-east-1:000000000000:stream/bench", settings: settings,
                                         lastModifiedMilliseconds: Self.wallMilliseconds())
        return MappingRig(store: store, supervisor: supervisor, mapping: mapping, pool: pool, path: path)
    }

    private static func entries(_ count: Int, from first: Int) -> [StreamEntry] {
        (first..<first + count).map { index in
            StreamEntry(partitionKey: "key-\(index % 1000)", hashKey: UInt128.random(in: 0...UInt128.max), data: Array(#"{"n":\#(index)}"#.utf8))
        }
    }

    /// Fills the stream, then times the mapping from start until every shard's checkpoint is at its last record.
    private func mappingThroughput(_ library: String, shards: Int) async throws -> Double {
        let rig = try await mappingRig(library, shards: shards)
        defer { try? FileManager.default.removeItem(atPath: rig.path) }
        var put = 0
        while put < events {
            let count = min(500, events - put)
            _ = try await rig.store.putRecords(Self.entries(count, from: put), to: "bench", now: Self.wallMilliseconds())
            put += count
        }
        var last: [String: UInt64] = [:]
        for shard in 0..<shards { last[ShardMap.shardID(shard)] = try await rig.store.lastSequence(in: "bench", shard: shard) }
        let start = Measure.now()
        await rig.supervisor.apply(rig.mapping)
        while true {
            let leases = try await rig.store.shardLeases(mapping: rig.mapping.uuid)
            if leases.count == shards, leases.allSatisfy({ $0.checkpoint == last[$0.shard] }) { break }
            try await Task.sleep(for: .milliseconds(2))
            if Measure.now() - start > 300_000_000_000 { throw BenchError("the mapping did not finish in 300 s") }
        }
        let elapsed = Double(Measure.now() - start) / 1e9
        await rig.supervisor.shutdown()
        await rig.pool.shutdown()
        return Double(events) / elapsed
    }

    /// Puts records at `rate` for `latencySeconds` (in puts of `rate / 1000` every millisecond) and
    /// times each from the start of its put to the return of its batch's invocation.
    private func mappingLatency(_ library: String, shards: Int, rate: Int) async throws -> [Int64] {
        let times = SequenceTimes()
        let rig = try await mappingRig(library, shards: shards) { records in
            let now = Measure.now()
            times.state.withLock { state in for record in records { state.invoked[record.sequence] = now } }
        }
        defer { try? FileManager.default.removeItem(atPath: rig.path) }
        await rig.supervisor.apply(rig.mapping)
        try await Task.sleep(for: .milliseconds(200))  // leases taken, workers idle
        let total = Int(Double(rate) * latencySeconds)
        let perTick = max(1, rate / 1000)
        let interval = Int64(1e9 * Double(perTick) / Double(rate))
        let start = Measure.now()
        var put = 0, tick = 0
        while put < total {
            let due = start + Int64(tick) * interval
            let wait = due - Measure.now()
            if wait > 0 { try await Task.sleep(for: .nanoseconds(wait)) }
            let count = min(perTick, total - put)
            let before = Measure.now()
            let records = try await rig.store.putRecords(Self.entries(count, from: put), to: "bench", now: Self.wallMilliseconds())
            rig.supervisor.recordsPut(stream: "bench")
            times.state.withLock { state in for record in records { state.put[record.sequence] = before } }
            put += count
            tick += 1
        }
        let deadline = Measure.now() + 30_000_000_000
        while times.state.withLock({ $0.invoked.count }) < total && Measure.now() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        await rig.supervisor.shutdown()
        await rig.pool.shutdown()
        return times.state.withLock { state in state.put.compactMap { sequence, putAt in state.invoked[sequence].map { $0 - putAt } } }
    }
}

/// When each record's put started and its batch's invocation returned, by sequence.
final class SequenceTimes: Sendable {
    let state = Mutex<(put: [UInt64: Int64], invoked: [UInt64: Int64])>(([:], [:]))
}
