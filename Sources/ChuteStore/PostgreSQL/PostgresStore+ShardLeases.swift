import ChuteCore

/// Shard leases and checkpoints on PostgreSQL: one row per mapping and shard, the KCL's lease
/// table. Every change names the lease counter it expects, so two hosts racing for a lease, or a
/// host that lost one, change nothing.
extension PostgresStore: ShardLeaseStore {
    private static func leases(_ connection: PostgresConnection, mapping: String, owner: String? = nil) throws(StoreError) -> [ShardLease] {
        try SharedStatements.shardLeases(connection, mapping: mapping, owner: owner)
    }

    public func acquireShardLeases(mapping: String, shards: [String], owner: String, limit: Int, now: Int64,
                                   leaseMilliseconds: Int64) async throws -> [ShardLease] {
        try await perform { connection throws(StoreError) in
            for shard in shards.sorted() {
                try connection.run("INSERT INTO shard_leases (mapping, shard) VALUES (?, ?) ON CONFLICT DO NOTHING", [.text(mapping), .text(shard)])
            }
            // Renew first: what this host holds counts against its limit.
            try connection.run("UPDATE shard_leases SET lease_until = ? WHERE mapping = ? AND owner = ? AND lease_until > ?",
                               [.integer(now + leaseMilliseconds), .text(mapping), .text(owner), .integer(now)])
            let held = try Self.leases(connection, mapping: mapping, owner: owner).filter { $0.untilMilliseconds > now }.count
            if limit > held {
                // Free or expired leases, skipping rows another host is taking right now; taking
                // one raises its counter, so its previous holder's late commits no longer match.
                try connection.run("""
                    UPDATE shard_leases SET owner = ?, lease_until = ?, lease_counter = lease_counter + 1
                    WHERE (mapping, shard) IN (
                        SELECT mapping, shard FROM shard_leases
                        WHERE mapping = ? AND (owner IS NULL OR lease_until <= ?) AND shard = ANY(?::text[])
                        ORDER BY shard LIMIT ? FOR UPDATE SKIP LOCKED)
                    """, [.text(owner), .integer(now + leaseMilliseconds), .text(mapping), .integer(now), PostgresArray.text(shards),
                          .integer(Int64(limit - held))])
            }
            return try Self.leases(connection, mapping: mapping, owner: owner)
        }
    }

    public func takeShardLease(_ lease: ShardLease, owner: String, now: Int64, leaseMilliseconds: Int64) async throws -> Bool {
        try await perform { connection throws(StoreError) in
            try SharedStatements.takeShardLease(connection, lease, owner: owner, until: now + leaseMilliseconds)
        }
    }

    public func commitCheckpoint(_ lease: ShardLease, owner: String, sequence: UInt64, plan: DeliveryPlan, now: Int64,
                                 leaseMilliseconds: Int64) async throws -> Bool {
        try await perform { connection throws(StoreError) in
            guard try SharedStatements.storeCheckpoint(connection, lease, owner: owner, sequence: sequence, now: now,
                                                       until: now + leaseMilliseconds) else { return false }
            try Self.writePlan(connection, plan, now: now)
            return true
        }
    }

    public func releaseShardLeases(mapping: String, owner: String) async throws {
        try await perform { connection throws(StoreError) in try SharedStatements.releaseShardLeases(connection, mapping: mapping, owner: owner) }
    }

    public func shardLeases(mapping: String) async throws -> [ShardLease] {
        try await perform(durable: false) { connection throws(StoreError) in try Self.leases(connection, mapping: mapping) }
    }

    public func moveCheckpoint(mapping: String, shard: String, to sequence: UInt64) async throws {
        try await perform { connection throws(StoreError) in try SharedStatements.moveCheckpoint(connection, mapping: mapping, shard: shard, to: sequence) }
    }

    public func deleteShardLeases(mapping: String) async throws {
        try await perform { connection throws(StoreError) in try SharedStatements.deleteShardLeases(connection, mapping: mapping) }
    }
}
