import ChuteCore

/// Streams in SQLite: one row per record, keyed by stream, shard and sequence.
extension SQLiteAsyncEventStore: StreamStore {
    static let streamSchema = """
        CREATE TABLE IF NOT EXISTS streams (
            name TEXT PRIMARY KEY,
            shard_count INTEGER NOT NULL,
            retention_hours INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            next_sequence INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE IF NOT EXISTS stream_records (
            stream TEXT NOT NULL,
            shard INTEGER NOT NULL,
            sequence INTEGER NOT NULL,
            partition_key TEXT NOT NULL,
            data BLOB NOT NULL,
            arrival INTEGER NOT NULL,
            PRIMARY KEY (stream, shard, sequence)
        ) WITHOUT ROWID;
        """

    public func createStream(_ name: String, shardCount: Int, retentionHours: Int, now: Int64) async throws -> StreamDescription? {
        try await perform { connection throws(StoreError) in
            try connection.run("INSERT OR IGNORE INTO streams (name, shard_count, retention_hours, created_at) VALUES (?, ?, ?, ?)",
                               [.text(name), .integer(Int64(shardCount)), .integer(Int64(retentionHours)), .integer(now)])
            guard connection.changes == 1 else { return nil }
            return StreamDescription(name: name, shardCount: shardCount, retentionHours: retentionHours, createdAtMilliseconds: now)
        }
    }

    @discardableResult
    public func deleteStream(_ name: String) async throws -> Bool {
        try await perform { connection throws(StoreError) in
            try connection.run("DELETE FROM streams WHERE name = ?", [.text(name)])
            guard connection.changes == 1 else { return false }
            try connection.run("DELETE FROM stream_records WHERE stream = ?", [.text(name)])
            return true
        }
    }

    public func streamDescriptions() async throws -> [StreamDescription] {
        try await perform(durable: false) { connection throws(StoreError) in
            try Self.streams(connection, where: "1 = 1", [])
        }
    }

    public func stream(_ name: String) async throws -> StreamDescription? {
        try await perform(durable: false) { connection throws(StoreError) in
            try Self.streams(connection, where: "name = ?", [.text(name)]).first
        }
    }

    private static func streams(_ connection: SQLiteConnection, where condition: String, _ bindings: [SQLValue]) throws(StoreError) -> [StreamDescription] {
        try SharedStatements.streams(connection, where: condition, bindings)
    }

    public func putRecords(_ entries: [StreamEntry], to stream: String, now: Int64) async throws -> [StreamRecord] {
        try await perform { connection throws(StoreError) in
            guard let description = try Self.streams(connection, where: "name = ?", [.text(stream)]).first else {
                throw StoreError("the stream \(stream) does not exist")
            }
            var next: UInt64 = 1
            try connection.run("SELECT next_sequence FROM streams WHERE name = ?", [.text(stream)]) { row in next = UInt64(row.integer(0)) }
            let map = description.shardMap
            var stored: [StreamRecord] = []
            stored.reserveCapacity(entries.count)
            for entry in entries {
                let shard = map.shard(for: entry.hashKey)
                let record = StreamRecord(shardID: ShardMap.shardID(shard), sequence: next, partitionKey: entry.partitionKey, data: entry.data,
                                          arrivalMilliseconds: now)
                try connection.run("""
                    INSERT INTO stream_records (stream, shard, sequence, partition_key, data, arrival) VALUES (?, ?, ?, ?, ?, ?)
                    """, [.text(stream), .integer(Int64(shard)), .integer(Int64(next)), .text(entry.partitionKey), .blob(entry.data), .integer(now)])
                stored.append(record)
                next += 1
            }
            try connection.run("UPDATE streams SET next_sequence = ? WHERE name = ?", [.integer(Int64(next)), .text(stream)])
            let cutoff = now - Int64(description.retentionHours) * 3_600_000
            for shard in Set(stored.compactMap { ShardMap.shardIndex($0.shardID) }) {
                try Self.trim(connection, stream: stream, shard: shard, before: cutoff)
            }
            return stored
        }
    }

    private static func trim(_ connection: SQLiteConnection, stream: String, shard: Int, before cutoff: Int64) throws(StoreError) {
        try SharedStatements.trim(connection, stream: stream, shard: shard, before: cutoff)
    }

    public func records(in stream: String, shard: Int, from position: StreamPosition, limit: Int, now: Int64) async throws -> [StreamRecord] {
        try await perform(durable: false) { connection throws(StoreError) in
            var retention: Int64 = 0
            try connection.run("SELECT retention_hours FROM streams WHERE name = ?", [.text(stream)]) { row in retention = row.integer(0) }
            let oldest = now - retention * 3_600_000
            let (condition, bound): (String, Int64) = switch position {
            case .trimHorizon: ("sequence >= ?", 0)
            case .atSequence(let sequence): ("sequence >= ?", Int64(clamping: sequence))
            case .afterSequence(let sequence): ("sequence > ?", Int64(clamping: sequence))
            case .atTimestamp(let time): ("arrival >= ?", time)
            }
            var records: [StreamRecord] = []
            let shardID = ShardMap.shardID(shard)
            try connection.run("""
                SELECT sequence, partition_key, data, arrival FROM stream_records
                WHERE stream = ? AND shard = ? AND \(condition) AND arrival >= ? ORDER BY sequence LIMIT ?
                """, [.text(stream), .integer(Int64(shard)), .integer(bound), .integer(oldest), .integer(Int64(limit))]) { row in
                records.append(StreamRecord(shardID: shardID, sequence: UInt64(clamping: row.integer(0)), partitionKey: row.text(1) ?? "", data: row.blob(2),
                                            arrivalMilliseconds: row.integer(3)))
            }
            return records
        }
    }

    public func lastSequence(in stream: String, shard: Int) async throws -> UInt64 {
        try await perform(durable: false) { connection throws(StoreError) in try SharedStatements.lastSequence(connection, stream: stream, shard: shard) }
    }
}
