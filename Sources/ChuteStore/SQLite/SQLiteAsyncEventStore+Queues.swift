import ChuteCore
import FoundationEssentials

/// The built-in queues: SQS's model (visibility timeouts, delays, retention, redrive to a
/// dead-letter queue after `maxReceiveCount` receives) on two tables, committed like events.
extension SQLiteAsyncEventStore {
    /// Columns of `queues` beyond its name, added to stores created before queues had attributes.
    static let queueColumns: [(String, String)] = [
        ("visibility_timeout", "INTEGER NOT NULL DEFAULT 30"),
        ("retention", "INTEGER NOT NULL DEFAULT 345600"),
        ("delay", "INTEGER NOT NULL DEFAULT 0"),
        ("maximum_size", "INTEGER NOT NULL DEFAULT 1048576"),
        ("receive_wait", "INTEGER NOT NULL DEFAULT 0"),
        ("dead_letter_queue", "TEXT"),
        ("max_receive_count", "INTEGER"),
        ("created_at", "INTEGER NOT NULL DEFAULT 0"),
        ("modified_at", "INTEGER NOT NULL DEFAULT 0"),
    ]

    @discardableResult
    public func createQueue(_ name: String, attributes: QueueAttributes, now: Int64) async throws -> QueueState {
        try await perform { connection throws(StoreError) in
            if let existing = try Self.queueState(connection, name, now: now) { return existing }
            try connection.run("INSERT INTO queues (name, created_at, modified_at) VALUES (?, ?, ?)", [.text(name), .integer(now), .integer(now)])
            try Self.writeAttributes(connection, name, attributes, now: now)
            return QueueState(name: name, attributes: attributes, createdAtMilliseconds: now, modifiedAtMilliseconds: now)
        }
    }

    public func queue(_ name: String, now: Int64) async throws -> QueueState? {
        try await perform { connection throws(StoreError) in try Self.queueState(connection, name, now: now) }
    }

    public func queueSettings(_ name: String) async throws -> QueueState? {
        try await perform { connection throws(StoreError) in try Self.queueRow(connection, name) }
    }

    public func queueNames() async throws -> [String] {
        try await perform { connection throws(StoreError) in
            var names: [String] = []
            try connection.run("SELECT name FROM queues ORDER BY name") { row in names.append(row.text(0) ?? "") }
            return names
        }
    }

    public func setQueueAttributes(_ name: String, _ attributes: QueueAttributes, now: Int64) async throws {
        try await perform { connection throws(StoreError) in
            guard try Self.attributes(connection, name) != nil else { throw StoreError("the queue \(name) does not exist") }
            try Self.writeAttributes(connection, name, attributes, now: now)
        }
    }

    public func deleteQueue(_ name: String) async throws {
        try await perform { connection throws(StoreError) in
            try connection.run("DELETE FROM queue_messages WHERE queue = ?", [.text(name)])
            try connection.run("DELETE FROM queue_segments WHERE queue = ?", [.text(name)])
            try connection.run("DELETE FROM queues WHERE name = ?", [.text(name)])
        }
    }

    public func purgeQueue(_ name: String) async throws {
        try await perform { connection throws(StoreError) in
            try connection.run("DELETE FROM queue_messages WHERE queue = ?", [.text(name)])
            try connection.run("DELETE FROM queue_segments WHERE queue = ?", [.text(name)])
        }
    }

    @discardableResult
    public func send(_ messages: [QueueMessage], to queue: String, now: Int64) async throws -> [String] {
        try await perform { connection throws(StoreError) in
            guard let attributes = try Self.attributes(connection, queue) else { throw StoreError("the queue \(queue) does not exist") }
            return try messages.map { message throws(StoreError) in
                try Self.insertMessage(connection, message, queue: queue, delaySeconds: message.delaySeconds ?? attributes.delaySeconds, now: now)
            }
        }
    }

    public func receive(from queue: String, limit: Int, visibilityMilliseconds: Int64?, now: Int64) async throws -> [ReceivedMessage] {
        try await perform { connection throws(StoreError) in
            guard let attributes = try Self.attributes(connection, queue) else { throw StoreError("the queue \(queue) does not exist") }
            try Self.dropExpired(connection, queue, attributes, now: now)
            try Self.redriveExhausted(connection, queue, attributes, now: now)
            try Self.materializeSegments(connection, queue, now: now, wanted: limit)
            let visibility = visibilityMilliseconds ?? Int64(attributes.visibilityTimeoutSeconds) * 1000
            return try SharedStatements.receive(connection, from: queue, limit: limit, visibleUntil: now + visibility, now: now,
                                                rowLock: "")
        }
    }

    @discardableResult
    public func delete(from queue: String, receiptHandle: String) async throws -> Bool {
        try await perform { connection throws(StoreError) in try SharedStatements.deleteMessage(connection, from: queue, receiptHandle: receiptHandle) }
    }

    public func changeVisibility(in queue: String, receiptHandle: String, visibilityMilliseconds: Int64, now: Int64) async throws -> VisibilityChange {
        try await perform { connection throws(StoreError) in
            try SharedStatements.changeVisibility(connection, in: queue, receiptHandle: receiptHandle, visibilityMilliseconds: visibilityMilliseconds,
                                                  now: now, rowLock: "")
        }
    }

    // MARK: Inside a transaction

    /// Adds a destination's or dead-letter queue's message to the settle's segments; the reason
    /// when the queue cannot take it (missing, or the message is over the queue's size limit).
    /// `queues` caches queue attributes for the rest of the transaction (settling a group reads
    /// the same destination queue for every event).
    static func deliver(_ connection: SQLiteConnection, _ delivery: QueueDelivery, now: Int64,
                        queues: inout [String: QueueAttributes?], into segments: inout PendingSegments) throws(StoreError) -> String? {
        let attributes: QueueAttributes
        switch try SharedStatements.destination(connection, of: delivery, queues: &queues) {
        case .success(let found): attributes = found
        case .failure(let problem): return problem.reason
        }
        let delay = Int64(delivery.message.delaySeconds ?? attributes.delaySeconds) * 1000
        segments.append(SegmentMessage(id: RequestID.makeTimeOrdered(milliseconds: now), body: delivery.message.body,
                                       attributes: MessageAttributeCoding.json(delivery.message.attributes)),
                        queue: delivery.queue, visibleAt: now + delay)
        return nil
    }

    @discardableResult
    private static func insertMessage(_ connection: SQLiteConnection, _ message: QueueMessage, queue: String, delaySeconds: Int,
                                      now: Int64) throws(StoreError) -> String {
        let id = RequestID.makeTimeOrdered(milliseconds: now)
        try connection.run("""
            INSERT INTO queue_messages (queue, message_id, body, attributes, sent_at, visible_at) VALUES (?, ?, ?, ?, ?, ?)
            """, [.text(queue), .text(id), .blob(message.body), .text(MessageAttributeCoding.json(message.attributes)), .integer(now),
                  .integer(now + Int64(delaySeconds) * 1000)])
        return id
    }

    private static func attributes(_ connection: SQLiteConnection, _ name: String) throws(StoreError) -> QueueAttributes? {
        try queueRow(connection, name)?.attributes
    }

    private static func queueRow(_ connection: SQLiteConnection, _ name: String) throws(StoreError) -> QueueState? {
        try SharedStatements.queueRow(connection, name)
    }

    private static func queueState(_ connection: SQLiteConnection, _ name: String, now: Int64) throws(StoreError) -> QueueState? {
        guard var state = try queueRow(connection, name) else { return nil }
        // Expired messages go first, as a receive would drop them; the counts then come from
        // indexes alone (visible_at, and the received partial index), never from message rows.
        try dropExpired(connection, name, state.attributes, now: now)
        var hidden = 0
        try connection.run("""
            SELECT (SELECT count(*) FROM queue_messages WHERE queue = ?1 AND visible_at <= ?2)
                     + (SELECT coalesce(sum(message_count), 0) FROM queue_segments WHERE queue = ?1 AND visible_at <= ?2),
                   (SELECT count(*) FROM queue_messages WHERE queue = ?1 AND visible_at > ?2)
                     + (SELECT coalesce(sum(message_count), 0) FROM queue_segments WHERE queue = ?1 AND visible_at > ?2),
                   (SELECT count(*) FROM queue_messages WHERE queue = ?1 AND visible_at > ?2 AND receive_count > 0)
            """, [.text(name), .integer(now)]) { row in
            state.visibleMessages = Int(row.integer(0))
            hidden = Int(row.integer(1))
            state.inFlightMessages = Int(row.integer(2))
        }
        state.delayedMessages = hidden - state.inFlightMessages
        return state
    }

    private static func writeAttributes(_ connection: SQLiteConnection, _ name: String, _ attributes: QueueAttributes, now: Int64) throws(StoreError) {
        try SharedStatements.writeAttributes(connection, name, attributes, now: now)
    }

    /// Messages past the retention period are gone, as in SQS (counted from the first send, also
    /// after a move to a dead-letter queue).
    private static func dropExpired(_ connection: SQLiteConnection, _ queue: String, _ attributes: QueueAttributes, now: Int64) throws(StoreError) {
        let cutoff = now - Int64(attributes.messageRetentionSeconds) * 1000
        try connection.run("DELETE FROM queue_messages WHERE queue = ? AND sent_at <= ?", [.text(queue), .integer(cutoff)])
        try connection.run("DELETE FROM queue_segments WHERE queue = ? AND sent_at <= ?", [.text(queue), .integer(cutoff)])
    }

    /// Visible messages already received `maxReceiveCount` times move to the dead-letter queue
    /// (same id, body, attributes and sent time; received afresh there). If the dead-letter queue
    /// was deleted they stay where they are: nothing is dropped for want of a target.
    private static func redriveExhausted(_ connection: SQLiteConnection, _ queue: String, _ attributes: QueueAttributes, now: Int64) throws(StoreError) {
        guard let policy = attributes.redrivePolicy, policy.deadLetterQueue != queue,
              try self.attributes(connection, policy.deadLetterQueue) != nil else { return }
        try connection.run("""
            UPDATE queue_messages SET queue = ?, visible_at = ?, receive_count = 0, receipt_handle = NULL, first_received_at = NULL
            WHERE queue = ? AND visible_at <= ? AND receive_count > 0 AND receive_count >= ?
            """, [.text(policy.deadLetterQueue), .integer(now), .text(queue), .integer(now), .integer(Int64(policy.maxReceiveCount))])
    }
}
