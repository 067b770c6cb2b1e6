import ChuteCore
import Foundation
import Synchronization

/// Kinesis's read limit: at most 5 GetRecords calls per second per shard. Past it the call is
/// refused with `ProvisionedThroughputExceededException`, which clients back off from. Besides
/// matching Kinesis, it bounds what GetRecords can cost: each call may answer with 10 MB, and a
/// flood of them once kept both cores busy for minutes.
final class ShardReadLimit: Sendable {
    static let callsPerSecond = 5
    private let windows = Mutex<[String: (second: Int64, calls: Int)]>([:])

    /// Counts one call on the shard at `now` (milliseconds); false when the shard's limit is spent.
    func admit(stream: String, shard: Int, now: Int64) -> Bool {
        let key = "\(stream)/\(shard)"
        let second = now / 1000
        return windows.withLock { windows in
            if windows.count > 10_000 { windows = windows.filter { $0.value.second == second } }  // forget old shards
            var window = windows[key] ?? (second, 0)
            if window.second != second { window = (second, 0) }
            guard window.calls < Self.callsPerSecond else { return false }
            window.calls += 1
            windows[key] = window
            return true
        }
    }
}
