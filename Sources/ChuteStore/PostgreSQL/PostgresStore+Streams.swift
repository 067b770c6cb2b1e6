import ChuteCore

/// Streams on PostgreSQL: one row per record, keyed by stream, shard and sequence. A put takes
/// its sequence numbers by updating the stream's row, which it holds locked until it commits: two
/// hosts putting to one stream commit in sequence order, so a shard read from a checkpoint never
/// skips a record committed late.
extension PostgresStore: StreamStore {
    public func createStream(_ name: String, shardCount: Int, retentionHours: Int, now: Int64) async throws -> StreamDescription? {
        try await perform { connection throws(StoreError) in
            try connection.run("""
                INSERT INTO streams (name, shard_count, retention_hours, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING
                """, [.text(name), .integer(Int64(shardCount)), .integer(Int64(retentionHours)), .integer(now)])
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
        try await perform(durable: false) { connection throws(StoreError) in try Self.streams(connection, where: "true", []) }
    }

    public func stream(_ name: String) async throws -> StreamDescription? {
        try await perform(durable: false) { connection throws(StoreError) in
            try Self.streams(connection, where: "name = ?", [.text(name)]).first
        }
    }

    private static func streams(_ connection: PostgresConnection, where condition: String, _ bindings: [SQLValue]) throws(StoreError) -> [StreamDescription] {
        try SharedStatements.streams(connection, where: condition, bindings)
    }

    public func putRecords(_ entries: [StreamEntry], to stream: String, now: Int64) async throws -> [StreamRecord] {
        guard !entries.isEmpty else { return [] }
        return try await perform { connection throws(StoreError) in
            var first: UInt64?
            var shardCount = 1
            var retentionHours: Int64 = 24
            try connection.run("""
                UPDATE streams SET next_sequence = next_sequence + ? WHERE name = ? RETURNING next_sequence - ?, shard_count, retention_hours
                """, [.integer(Int64(entries.count)), .text(stream), .integer(Int64(entries.count))]) { row in
                first = UInt64(row.integer(0))
                shardCount = Int(row.integer(1))
                retentionHours = row.integer(2)
            }
            guard var next = first else { throw StoreError("the stream \(stream) does not exist") }
            let map = ShardMap(shardCount: shardCount)
            var stored: [StreamRecord] = []
            stored.reserveCapacity(entries.count)
            var shards: [Int64] = []
            for entry in entries {
                let shard = map.shard(for: entry.hashKey)
                shards.append(Int64(shard))
                stored.append(StreamRecord(shardID: ShardMap.shardID(shard), sequence: next, partitionKey: entry.partitionKey, data: entry.data,
                                           arrivalMilliseconds: now))
                next += 1
            }
            try connection.run("""
                INSERT INTO stream_records (stream, shard, sequence, partition_key, data, arrival)
                SELECT ?::text, r.*, ?::bigint FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::bytea[]) AS r
                """, [.text(stream), .integer(now), PostgresArray.integers(shards), PostgresArray.integers(stored.map { Int64($0.sequence) }),
                      PostgresArray.text(entries.map(\.partitionKey)), PostgresArray.bytes(entries.map(\.data))])
            let cutoff = now - retentionHours * 3_600_000
            for shard in Set(stored.compactMap { ShardMap.shardIndex($0.shardID) }) {
                try Self.trim(connection, stream: stream, shard: shard, before: cutoff)
            }
            return stored
        }
    }

    private static func trim(_ connection: PostgresConnection, stream: String, shard: Int, before cutoff: Int64) throws(StoreError) {
        try SharedStatements.trim(connection, stream: stream, shard: shard, before: cutoff)
    }

    public func records(in stream: String, shard: Int, from position: StreamPosition, limit: Int, now: Int64) async throws -> [StreamRecord] {
        try await perform(durable: false) { connection throws(StoreError) in
            let (condition, bound): (String, Int64) = switch position {
            case .trimHorizon: ("r.sequence >= ?", 0)
            case .atSequence(let sequence): ("r.sequence >= ?", Int64(clamping: sequence))
            case .afterSequence(let sequence): ("r.sequence > ?", Int64(clamping: sequence))
            case .atTimestamp(let time): ("r.arrival >= ?", time)
            }
            var records: [StreamRecord] = []
            let shardID = ShardMap.shardID(shard)
            try connection.run("""
                SELECT r.sequence, r.partition_key, r.data, r.arrival FROM stream_records r JOIN streams s ON s.name = r.stream
                WHERE r.stream = ? AND r.shard = ? AND \(condition) AND r.arrival >= ? - s.retention_hours * 3600000
                ORDER BY r.sequence LIMIT ?
                """, [.text(stream), .integer(Int64(shard)), .integer(bound), .integer(now), .integer(Int64(limit))]) { row in
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
