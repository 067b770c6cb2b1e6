/// A shard processed by up to ten batches at once (ParallelizationFactor): records are spread over
/// lanes by partition key, so each key keeps its order, and every lane is a `ShardProcessor` with
/// its own retries, bisect and discards. The shard's checkpoint is the lowest lane's: nothing a
/// lane still holds is ever passed.
public struct ShardLanes: Sendable {
    public private(set) var lanes: [ShardProcessor]

    public init(settings: ShardProcessor.Settings, checkpoint: UInt64, parallelization: Int) {
        lanes = Array(repeating: ShardProcessor(settings: settings, checkpoint: checkpoint), count: max(1, parallelization))
    }

    /// Every lane sees every record, and keeps those of its keys that pass the filters: so each
    /// lane's checkpoint moves past the records other lanes hold only up to what it was fed.
    public mutating func add(_ records: [StreamRecord], keep: [Bool]? = nil, now: Int64) {
        guard lanes.count > 1 else { return lanes[0].add(records, keep: keep, now: now) }
        let laneOfRecord = records.map { Self.lane(of: $0.partitionKey, among: lanes.count) }
        for lane in lanes.indices {
            let mask = records.indices.map { laneOfRecord[$0] == lane && (keep?[$0] ?? true) }
            lanes[lane].add(records, keep: mask, now: now)
        }
    }

    public mutating func next(lane: Int, now: Int64) -> ShardProcessor.Action {
        lanes[lane].next(now: now)
    }

    public mutating func complete(lane: Int, _ result: ShardProcessor.Result) {
        lanes[lane].complete(result)
    }

    public var checkpoint: UInt64 { lanes.map(\.checkpoint).min() ?? 0 }

    public var fedThrough: UInt64 { lanes[0].fedThrough }

    public var pendingCount: Int { lanes.reduce(0) { $0 + $1.pendingCount } }

    /// A partition key's lane: FNV-1a of its bytes, stable across runs and hosts.
    public static func lane(of partitionKey: String, among count: Int) -> Int {
        guard count > 1 else { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in partitionKey.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return Int(hash % UInt64(count))
    }
}
