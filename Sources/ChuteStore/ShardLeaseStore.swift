/// Who processes which shard of a stream mapping, and how far: one lease per mapping and shard,
/// as the Kinesis Client Library's lease table. A host holds a shard's lease while it processes it
/// and renews it with every checkpoint; a lease that expires (its host died) is taken over by
/// another host, which resumes from the last checkpoint (at-least-once, order kept per shard).
public protocol ShardLeaseStore: Sendable {
    /// Leases to `owner` up to `limit` of `shards` that are free, expired or already its own,
    /// until `now + leaseMilliseconds`; returns every lease `owner` holds on the mapping.
    func acquireShardLeases(mapping: String, shards: [String], owner: String, limit: Int, now: Int64,
                            leaseMilliseconds: Int64) async throws -> [ShardLease]
    /// Takes `lease` from its holder (balancing shards across hosts, as the KCL steals leases) when
    /// its counter is still the one given; false when it moved meanwhile. The holder's next
    /// commit fails, and it stops processing the shard.
    func takeShardLease(_ lease: ShardLease, owner: String, now: Int64, leaseMilliseconds: Int64) async throws -> Bool
    /// Stores the shard's checkpoint and renews the lease, with the plan's deliveries (the
    /// on-failure records of discarded records) in the same transaction. False, and nothing
    /// written, when `owner` no longer holds `lease` (it expired, or was freed and taken again:
    /// its counter moved on).
    func commitCheckpoint(_ lease: ShardLease, owner: String, sequence: UInt64, plan: DeliveryPlan, now: Int64,
                          leaseMilliseconds: Int64) async throws -> Bool
    /// Gives up `owner`'s leases on the mapping (a host stopping): free for any host at once.
    func releaseShardLeases(mapping: String, owner: String) async throws
    /// Every lease of the mapping, for operators.
    func shardLeases(mapping: String) async throws -> [ShardLease]
    /// Moves a shard's checkpoint (an operator skipping a poison record or rewinding); the lease
    /// is freed so that its holder resumes from the new checkpoint.
    func moveCheckpoint(mapping: String, shard: String, to sequence: UInt64) async throws
    /// Drops the mapping's leases and checkpoints (the mapping was deleted).
    func deleteShardLeases(mapping: String) async throws
}

public struct ShardLease: Sendable, Hashable {
    public var mapping: String
    public var shard: String
    public var owner: String?
    public var untilMilliseconds: Int64
    /// The last sequence number processed; nil before the first checkpoint (start at the
    /// mapping's starting position).
    public var checkpoint: UInt64?
    /// Raised each time a host takes the lease (the KCL's lease counter): a commit names the
    /// counter it holds, so a holder that lost the lease cannot overwrite its successor's progress.
    public var counter: Int64

    public init(mapping: String, shard: String, owner: String?, untilMilliseconds: Int64, checkpoint: UInt64?, counter: Int64 = 0) {
        self.mapping = mapping
        self.shard = shard
        self.owner = owner
        self.untilMilliseconds = untilMilliseconds
        self.checkpoint = checkpoint
        self.counter = counter
    }
}
