import ChuteCore

/// Shard leases and checkpoints in SQLite: one row per mapping and shard.
extension SQLiteAsyncEventStore: ShardLeaseStore {
    static let shardLeaseSchema = """
        CREATE TABLE IF NOT EXISTS shard_leases (
            mapping TEXT NOT NULL,
            shard TEXT NOT NULL,
            owner TEXT,
            lease_until INTEGER NOT NULL DEFAULT 0,
            checkpoint INTEGER,
            lease_counter INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (mapping, shard)
        ) WITHOUT ROWID;
        """

    /// Tables made before leases had counters get the column (they held no leases yet).
    static func migrateShardLeases(_ connection: SQLiteConnection) throws(StoreError) {
        var hasCounter = false
        try connection.run("SELECT name FROM pragma_table_info('shard_leases')") { row in
            if row.text(0) == "lease_counter" { hasCounter = true }
        }
        if !hasCounter { try connection.execute("ALTER TABLE shard_leases ADD COLUMN lease_counter INTEGER NOT NULL DEFAULT 0") }
    }

    private static func leases(_ connection: SQLiteConnection, mapping: String, owner: String? = nil) throws(StoreError) -> [ShardLease] {
        try SharedStatements.shardLeases(connection, mapping: mapping, owner: owner)
    }

    public func acquireShardLeases(mapping: String, shards: [String], owner: String, limit: Int, now: Int64,
                                   leaseMilliseconds: Int64) async throws -> [ShardLease] {
        try await perform { connection throws(StoreError) in
            for shard in shards {
                try connection.run("INSERT OR IGNORE INTO shard_leases (mapping, shard) VALUES (?, ?)", [.text(mapping), .text(shard)])
            }
            let held = try Self.leases(connection, mapping: mapping, owner: owner).filter { $0.untilMilliseconds > now }
            var room = limit - held.count
            for lease in try Self.leases(connection, mapping: mapping) where room > 0 && shards.contains(lease.shard) {
                guard lease.owner == nil || lease.untilMilliseconds <= now else { continue }  // free, or its holder's lease expired
                // Taking a lease raises its counter: a previous holder's late commits no longer match.
                try connection.run("""
                    UPDATE shard_leases SET owner = ?, lease_until = ?, lease_counter = lease_counter + 1 WHERE mapping = ? AND shard = ?
                    """,
                                   [.text(owner), .integer(now + leaseMilliseconds), .text(mapping), .text(lease.shard)])
                room -= 1
            }
            try connection.run("UPDATE shard_leases SET lease_until = ? WHERE mapping = ? AND owner = ? AND lease_until > ?",
                               [.integer(now + leaseMilliseconds), .text(mapping), .text(owner), .integer(now)])
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
        try await perform { [self] connection throws(StoreError) in
            guard try SharedStatements.storeCheckpoint(connection, lease, owner: owner, sequence: sequence, now: now,
                                                       until: now + leaseMilliseconds) else { return false }
            try writePlan(connection, plan, now: now)
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
