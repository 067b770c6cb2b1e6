import ChuteCore

/// Durable, sharded streams (Kinesis-like): records keep their shard's order, carry increasing
/// sequence numbers and their arrival time, and are readable from any position until they pass
/// the stream's retention.
public protocol StreamStore: Sendable {
    /// Creates the stream; nil when a stream of that name exists.
    func createStream(_ name: String, shardCount: Int, retentionHours: Int, now: Int64) async throws -> StreamDescription?
    /// Deletes the stream and its records; false when it did not exist.
    @discardableResult
    func deleteStream(_ name: String) async throws -> Bool
    func streamDescriptions() async throws -> [StreamDescription]
    func stream(_ name: String) async throws -> StreamDescription?
    /// Appends records in one transaction, each to the shard its hash key falls in; returns them
    /// stored, in the order given. Throws if the stream does not exist.
    func putRecords(_ entries: [StreamEntry], to stream: String, now: Int64) async throws -> [StreamRecord]
    /// Up to `limit` records of one shard from `position`, oldest first, within retention at `now`.
    func records(in stream: String, shard: Int, from position: StreamPosition, limit: Int, now: Int64) async throws -> [StreamRecord]
    /// The last sequence the shard holds (0 when empty): where LATEST starts.
    func lastSequence(in stream: String, shard: Int) async throws -> UInt64
}

public struct StreamDescription: Sendable, Hashable {
    public var name: String
    public var shardCount: Int
    public var retentionHours: Int
    public var createdAtMilliseconds: Int64

    public init(name: String, shardCount: Int, retentionHours: Int, createdAtMilliseconds: Int64) {
        self.name = name
        self.shardCount = shardCount
        self.retentionHours = retentionHours
        self.createdAtMilliseconds = createdAtMilliseconds
    }

    public var shardMap: ShardMap { ShardMap(shardCount: shardCount) }
}

/// A record to append: its partition key, the hash key that picks its shard, its data.
public struct StreamEntry: Sendable, Hashable {
    public var partitionKey: String
    public var hashKey: UInt128
    public var data: [UInt8]

    public init(partitionKey: String, hashKey: UInt128, data: [UInt8]) {
        self.partitionKey = partitionKey
        self.hashKey = hashKey
        self.data = data
    }
}

