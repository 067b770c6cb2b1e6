import ChuteCore

/// Records delivered to a queue by a settle are appended as segments: one row holding many
/// messages (at most `messagesPerSegment`), so that a chunk of results writes a few rows, not a
/// row and three index entries per record. A segment becomes one row per message only when a
/// consumer receives from the queue (`materializeSegments`); until then it is counted, aged out by
/// retention, purged and deleted as a whole. Messages sent through the API are rows from the start.
extension SQLiteAsyncEventStore {
    static let segmentSchema = """
        CREATE TABLE IF NOT EXISTS queue_segments (
            id INTEGER PRIMARY KEY,
            queue TEXT NOT NULL,
            sent_at INTEGER NOT NULL,
            visible_at INTEGER NOT NULL,
            message_count INTEGER NOT NULL,
            messages BLOB NOT NULL
        );
        CREATE INDEX IF NOT EXISTS queue_segments_visible ON queue_segments (queue, visible_at, id);
        CREATE INDEX IF NOT EXISTS queue_segments_sent ON queue_segments (queue, sent_at);
        """

    static let messagesPerSegment = 128
    static let bytesPerSegment = 256 * 1024

    /// One message of a segment: what its row will hold once received.
    struct SegmentMessage {
        var id: String
        var body: [UInt8]
        /// The message attributes as stored in `queue_messages.attributes` (JSON).
        var attributes: String
    }

    /// Messages one settle delivers, by queue and the time they become visible; written as
    /// segments when the settle ends.
    struct PendingSegments {
        struct Key: Hashable {
            var queue: String
            var visibleAt: Int64
        }

        var messages: [Key: [SegmentMessage]] = [:]

        mutating func append(_ message: SegmentMessage, queue: String, visibleAt: Int64) {
            messages[Key(queue: queue, visibleAt: visibleAt), default: []].append(message)
        }
    }

    static func writeSegments(_ connection: SQLiteConnection, _ pending: PendingSegments, sentAt now: Int64) throws(StoreError) {
        for (key, messages) in pending.messages {
            let segments = rowChunks(messages, maxCount: messagesPerSegment, maxBytes: bytesPerSegment) {
                16 + $0.id.utf8.count + $0.attributes.utf8.count + $0.body.count
            }
            for segment in segments {
                var writer = ByteWriter(capacity: segment.reduce(4) { $0 + 16 + $1.id.utf8.count + $1.attributes.utf8.count + $1.body.count })
                writer.integer(UInt32(segment.count))
                for message in segment {
                    writer.short(message.id.utf8)
                    writer.long(message.attributes.utf8)
                    writer.long(message.body)
                }
                try connection.run("""
                    INSERT INTO queue_segments (queue, sent_at, visible_at, message_count, messages) VALUES (?, ?, ?, ?, ?)
                    """, [.text(key.queue), .integer(now), .integer(key.visibleAt), .integer(Int64(segment.count)), .blob(writer.bytes)])
            }
        }
    }

    /// Turns the queue's oldest visible segments into message rows, at least `wanted` messages'
    /// worth while there are any: a receive then sees them as any other message.
    static func materializeSegments(_ connection: SQLiteConnection, _ queue: String, now: Int64, wanted: Int) throws(StoreError) {
        var materialized = 0
        while materialized < wanted {
            var segment: (id: Int64, sentAt: Int64, visibleAt: Int64, bytes: [UInt8])?
            try connection.run("""
                SELECT id, sent_at, visible_at, messages FROM queue_segments WHERE queue = ? AND visible_at <= ?
                ORDER BY visible_at, id LIMIT 1
                """, [.text(queue), .integer(now)]) { row in
                segment = (row.integer(0), row.integer(1), row.integer(2), row.blob(3))
            }
            guard let segment else { return }
            var reader = ByteReader(bytes: segment.bytes)
            guard let count = reader.integer(UInt32.self) else { throw corruptSegment(queue) }
            for _ in 0..<count {
                guard let id = reader.short(), let attributes = reader.long(), let body = reader.long() else { throw corruptSegment(queue) }
                try connection.run("""
                    INSERT INTO queue_messages (queue, message_id, body, attributes, sent_at, visible_at) VALUES (?, ?, ?, ?, ?, ?)
                    """, [.text(queue), .text(String(decoding: id, as: UTF8.self)), .blob(Array(body)),
                          .text(String(decoding: attributes, as: UTF8.self)), .integer(segment.sentAt), .integer(segment.visibleAt)])
            }
            try connection.run("DELETE FROM queue_segments WHERE id = ?", [.integer(segment.id)])
            materialized += Int(count)
        }
    }

    private static func corruptSegment(_ queue: String) -> StoreError {
        StoreError("a message segment of the queue \(queue) is corrupt (it ends before its last message)")
    }
}
