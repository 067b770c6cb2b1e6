import ChuteCore

/// Shard leases and checkpoints on PostgreSQL: one row per mapping and shard, the KCL's lease
/// table. Every change names the lease counter it expects, so two hosts racing for a lease, or a
/// host that lost one, change nothing.
extension PostgresStore: ShardLeaseStore {
    private static func leases(_ connection: PostgresConnection, mapping: String, owner: String? = nil) throws(StoreError) -> [ShardLease] {
        var leases: [ShardLease] = []
        let filter = owner == nil ? "" : " AND owner = ?"
        try connection.run("""
            SELECT shard, owner, lease_until, checkpoint, lease_counter FROM shard_leases WHERE mapping = ?\(filter) ORDER BY shard
            """, [.text(mapping)] + (owner.map { [.text($0)] } ?? [])) { row in
            leases.append(ShardLease(mapping: mapping, shard: row.text(0) ?? "", owner: row.text(1), untilMilliseconds: row.integer(2),
                                     checkpoint: row.isNull(3) ? nil : UInt64(row.integer(3)), counter: row.integer(4)))
        }
        return leases
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
                    """, [.text(owner), .integer(now + leaseMilliseconds), .text(mapping), .integer(now), .text(Self.textArray(shards)),
                          .integer(Int64(limit - held))])
            }
            return try Self.leases(connection, mapping: mapping, owner: owner)
        }
    }

    public func takeShardLease(_ lease: ShardLease, owner: String, now: Int64, leaseMilliseconds: Int64) async throws -> Bool {
        try await perform { connection throws(StoreError) in
            try connection.run("""
                UPDATE shard_leases SET owner = ?, lease_until = ?, lease_counter = lease_counter + 1
                WHERE mapping = ? AND shard = ? AND lease_counter = ?
                """, [.text(owner), .integer(now + leaseMilliseconds), .text(lease.mapping), .text(lease.shard), .integer(lease.counter)])
            return connection.changes == 1
        }
    }

    public func commitCheckpoint(_ lease: ShardLease, owner: String, sequence: UInt64, plan: DeliveryPlan, now: Int64,
                                 leaseMilliseconds: Int64) async throws -> Bool {
        try await perform { connection throws(StoreError) in
            try connection.run("""
                UPDATE shard_leases SET checkpoint = ?, lease_until = ?
                WHERE mapping = ? AND shard = ? AND owner = ? AND lease_counter = ? AND lease_until > ?
                """, [.integer(Int64(sequence)), .integer(now + leaseMilliseconds), .text(lease.mapping), .text(lease.shard), .text(owner),
                      .integer(lease.counter), .integer(now)])
            guard connection.changes == 1 else { return false }
            try Self.writePlan(connection, plan, now: now)
            return true
        }
    }

    public func releaseShardLeases(mapping: String, owner: String) async throws {
        try await perform { connection throws(StoreError) in
            try connection.run("UPDATE shard_leases SET owner = NULL, lease_until = 0 WHERE mapping = ? AND owner = ?", [.text(mapping), .text(owner)])
        }
    }

    public func shardLeases(mapping: String) async throws -> [ShardLease] {
        try await perform(durable: false) { connection throws(StoreError) in try Self.leases(connection, mapping: mapping) }
    }

    public func moveCheckpoint(mapping: String, shard: String, to sequence: UInt64) async throws {
        try await perform { connection throws(StoreError) in
            try connection.run("""
                INSERT INTO shard_leases (mapping, shard, checkpoint) VALUES (?1, ?2, ?3)
                ON CONFLICT (mapping, shard) DO UPDATE SET checkpoint = ?3, owner = NULL, lease_until = 0
                """, [.text(mapping), .text(shard), .integer(Int64(sequence))])
        }
    }

    public func deleteShardLeases(mapping: String) async throws {
        try await perform { connection throws(StoreError) in
            try connection.run("DELETE FROM shard_leases WHERE mapping = ?", [.text(mapping)])
        }
    }

    /// A PostgreSQL array literal of texts (`{"a","b"}`).
    static func textArray(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
    }
}
