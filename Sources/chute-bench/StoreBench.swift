import ChuteCore
import ChuteStore
import Foundation

/// What the embedded store costs per event for each step of the pipeline, without any handler:
/// accept, claim, settle with a record delivered to a queue. Shows where the end-to-end time goes.
extension ChuteBench {
    func measureStore(_ report: inout BenchReport) async throws {
        report.line("## Store steps alone (SQLite, WAL, synchronous=FULL): µs per event, median of \(rounds)")
        report.line("| batch | accept | claim | settle (record to a queue) | accept leased to the host (replaces accept + claim while the dispatcher has room) |")
        report.line("|---|---|---|---|---|")
        for batch in [64, 1024] {
            var accepts: [Double] = [], claims: [Double] = [], settles: [Double] = [], leasedAccepts: [Double] = []
            for _ in 0..<rounds {
                let path = NSTemporaryDirectory() + "chute-store-bench-\(RequestID.make()).sqlite"
                defer { try? FileManager.default.removeItem(atPath: path) }
                let store = try SQLiteAsyncEventStore(path: path)
                try await store.createQueue("done")
                let now = Self.wallMilliseconds()
                let count = events
                var start = Measure.now()
                // Time moves on as it would (a millisecond per batch): request and message ids are
                // time-ordered, as the host makes them.
                for (index, first) in stride(from: 0, to: count, by: batch).enumerated() {
                    let time = now + Int64(index)
                    try await store.accept((first..<min(count, first + batch)).map { _ in
                        AsyncEvent(requestID: RequestID.makeTimeOrdered(milliseconds: time), functionName: "noop", payload: Array("{}".utf8),
                                   receivedAtMilliseconds: time)
                    })
                }
                accepts.append(Double(Measure.now() - start) / 1e3 / Double(count))
                var claimed: [[AsyncEvent]] = []
                start = Measure.now()
                while true {
                    let events = try await store.claim(owner: "bench", now: now + 1_000_000, limit: batch, leaseMilliseconds: 600_000)
                    if events.isEmpty { break }
                    claimed.append(events)
                }
                claims.append(Double(Measure.now() - start) / 1e3 / Double(count))
                let record = String(repeating: "r", count: 400)
                start = Measure.now()
                for (index, events) in claimed.enumerated() {
                    try await store.settle(events.map { event in
                        Settlement(event: event, owner: "bench", outcome: .finished(FinishedEvent(
                            condition: .success, record: record,
                            deliveries: [QueueDelivery(queue: "done", message: QueueMessage(body: Array(record.utf8)))])))
                    }, now: now + Int64(index))
                }
                settles.append(Double(Measure.now() - start) / 1e3 / Double(count))
                leasedAccepts.append(try await measureLeasedAccept(batch: batch, now: now))
            }
            let µs = { (values: [Double]) in Measure.format(Measure.median(values), digits: 2) }
            report.line("| \(batch) | \(µs(accepts)) | \(µs(claims)) | \(µs(settles)) | \(µs(leasedAccepts)) |")
        }
        report.line("")
    }

    /// µs per event to accept events already leased to the host (the dispatcher's hand-over).
    private func measureLeasedAccept(batch: Int, now: Int64) async throws -> Double {
        let path = NSTemporaryDirectory() + "chute-store-bench-\(RequestID.make()).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try SQLiteAsyncEventStore(path: path)
        let start = Measure.now()
        for (index, first) in stride(from: 0, to: events, by: batch).enumerated() {
            let time = now + Int64(index)
            try await store.accept((first..<min(events, first + batch)).map { _ in
                AsyncEvent(requestID: RequestID.makeTimeOrdered(milliseconds: time), functionName: "noop", payload: Array("{}".utf8),
                           receivedAtMilliseconds: time)
            }, lease: EventLease(owner: "bench", untilMilliseconds: time + 600_000))
        }
        return Double(Measure.now() - start) / 1e3 / Double(events)
    }
}
