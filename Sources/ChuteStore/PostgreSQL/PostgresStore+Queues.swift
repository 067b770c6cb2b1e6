import ChuteCore

/// The built-in queues on PostgreSQL: SQS's model as with SQLite. Receives lock the messages they
/// take with `FOR UPDATE SKIP LOCKED`, so hosts receiving from one queue at once never get the
/// same message.
extension PostgresStore {
    @discardableResult
    public func createQueue(_ name: String, attributes: QueueAttributes, now: Int64) async throws -> QueueState {
        try await perform { connection throws(StoreError) in
            try connection.run("INSERT INTO queues (name, created_at, modified_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                               [.text(name), .integer(now), .integer(now)])
            guard connection.changes == 1 else {
                guard let existing = try Self.queueState(connection, name, now: now) else { throw StoreError("the queue \(name) vanished") }
                return existing
            }
            try Self.writeAttributes(connection, name, attributes, now: now)
            return QueueState(name: name, attributes: attributes, createdAtMilliseconds: now, modifiedAtMilliseconds: now)
        }
    }

    public func queue(_ name: String, now: Int64) async throws -> QueueState? {
        try await perform { connection throws(StoreError) in try Self.queueState(connection, name, now: now) }
    }

    public func queueSettings(_ name: String) async throws -> QueueState? {
        try await perform(durable: false) { connection throws(StoreError) in try Self.queueRow(connection, name) }
    }

    public func queueNames() async throws -> [String] {
        try await perform(durable: false) { connection throws(StoreError) in
            var names: [String] = []
            try connection.run("SELECT name FROM queues ORDER BY name") { row in names.append(row.text(0) ?? "") }
            return names
        }
    }

    public func setQueueAttributes(_ name: String, _ attributes: QueueAttributes, now: Int64) async throws {
        try await perform { connection throws(StoreError) in
            guard try Self.queueRow(connection, name) != nil else { throw StoreError("the queue \(name) does not exist") }
            try Self.writeAttributes(connection, name, attributes, now: now)
        }
    }

    public func deleteQueue(_ name: String) async throws {
        try await perform { connection throws(StoreError) in
            try connection.run("DELETE FROM queue_messages WHERE queue = ?", [.text(name)])
            try connection.run("DELETE FROM queues WHERE name = ?", [.text(name)])
        }
    }

    public func purgeQueue(_ name: String) async throws {
        try await perform { connection throws(StoreError) in
            try connection.run("DELETE FROM queue_messages WHERE queue = ?", [.text(name)])
        }
    }

    @discardableResult
    public func send(_ messages: [QueueMessage], to queue: String, now: Int64) async throws -> [String] {
        try await perform { connection throws(StoreError) in
            guard let attributes = try Self.queueRow(connection, queue)?.attributes else { throw StoreError("the queue \(queue) does not exist") }
            var pending = PendingMessages()
            let ids = messages.map { pending.append($0, queue: queue, delaySeconds: $0.delaySeconds ?? attributes.delaySeconds, now: now) }
            try pending.write(connection)
            return ids
        }
    }

    public func receive(from queue: String, limit: Int, visibilityMilliseconds: Int64?, now: Int64) async throws -> [ReceivedMessage] {
        try await perform { connection throws(StoreError) in
            guard let attributes = try Self.queueRow(connection, queue)?.attributes else { throw StoreError("the queue \(queue) does not exist") }
            try Self.dropExpired(connection, queue, attributes, now: now)
            try Self.redriveExhausted(connection, queue, attributes, now: now)
            let visibility = visibilityMilliseconds ?? Int64(attributes.visibilityTimeoutSeconds) * 1000
            return try SharedStatements.receive(connection, from: queue, limit: limit, visibleUntil: now + visibility, now: now,
                                                rowLock: "FOR UPDATE SKIP LOCKED")
        }
    }

    @discardableResult
    public func delete(from queue: String, receiptHandle: String) async throws -> Bool {
        try await perform { connection throws(StoreError) in try SharedStatements.deleteMessage(connection, from: queue, receiptHandle: receiptHandle) }
    }

    public func changeVisibility(in queue: String, receiptHandle: String, visibilityMilliseconds: Int64, now: Int64) async throws -> VisibilityChange {
        try await perform { connection throws(StoreError) in
            try SharedStatements.changeVisibility(connection, in: queue, receiptHandle: receiptHandle, visibilityMilliseconds: visibilityMilliseconds,
                                                  now: now, rowLock: "FOR UPDATE")
        }
    }

    // MARK: Inside a transaction

    /// Appends a destination's or dead-letter queue's message; the reason when the queue cannot
    /// take it (missing, or the message is over its size limit). `queues` caches attributes for
    /// the rest of the transaction.
    static func deliver(_ connection: PostgresConnection, _ delivery: QueueDelivery, now: Int64,
                        queues: inout [String: QueueAttributes?], into messages: inout PendingMessages) throws(StoreError) -> String? {
        let attributes: QueueAttributes
        switch try SharedStatements.destination(connection, of: delivery, queues: &queues) {
        case .success(let found): attributes = found
        case .failure(let problem): return problem.reason
        }
        messages.append(delivery.message, queue: delivery.queue, delaySeconds: delivery.message.delaySeconds ?? attributes.delaySeconds, now: now)
        return nil
    }

    /// Messages a transaction sends, written in one statement when it is done.
    struct PendingMessages {
        private var queues: [String?] = []
        private var ids: [String?] = []
        private var bodies: [[UInt8]] = []
        private var attributes: [String?] = []
        private var sentAt: [Int64] = []
        private var visibleAt: [Int64] = []

        /// Returns the message's id.
        @discardableResult
        mutating func append(_ message: QueueMessage, queue: String, delaySeconds: Int, now: Int64) -> String {
            let id = RequestID.makeTimeOrdered(milliseconds: now)
            queues.append(queue)
            ids.append(id)
            bodies.append(message.body)
            attributes.append(MessageAttributeCoding.json(message.attributes))
            sentAt.append(now)
            visibleAt.append(now + Int64(delaySeconds) * 1000)
            return id
        }

        /// In the order appended: each queue's messages keep their order (`seq`).
        func write(_ connection: PostgresConnection) throws(StoreError) {
            guard !ids.isEmpty else { return }
            try connection.run("""
                INSERT INTO queue_messages (queue, message_id, body, attributes, sent_at, visible_at)
                SELECT q, i, b, a, s, v FROM unnest(?::text[], ?::text[], ?::bytea[], ?::text[], ?::bigint[], ?::bigint[]) WITH ORDINALITY AS m(q, i, b, a, s, v, n)
                ORDER BY n
                """, [PostgresArray.text(queues), PostgresArray.text(ids), PostgresArray.bytes(bodies), PostgresArray.text(attributes),
                      PostgresArray.integers(sentAt), PostgresArray.integers(visibleAt)])
        }
    }

    private static func queueRow(_ connection: PostgresConnection, _ name: String) throws(StoreError) -> QueueState? {
        try SharedStatements.queueRow(connection, name)
    }

    private static func queueState(_ connection: PostgresConnection, _ name: String, now: Int64) throws(StoreError) -> QueueState? {
        guard var state = try queueRow(connection, name) else { return nil }
        try dropExpired(connection, name, state.attributes, now: now)
        var hidden = 0
        try connection.run("""
            SELECT count(*) FILTER (WHERE visible_at <= ?1), count(*) FILTER (WHERE visible_at > ?1),
                   count(*) FILTER (WHERE visible_at > ?1 AND receive_count > 0)
            FROM queue_messages WHERE queue = ?2
            """, [.integer(now), .text(name)]) { row in
            state.visibleMessages = Int(row.integer(0))
            hidden = Int(row.integer(1))
            state.inFlightMessages = Int(row.integer(2))
        }
        state.delayedMessages = hidden - state.inFlightMessages
        return state
    }

    private static func writeAttributes(_ connection: PostgresConnection, _ name: String, _ attributes: QueueAttributes, now: Int64) throws(StoreError) {
        try SharedStatements.writeAttributes(connection, name, attributes, now: now)
    }

    /// Messages past the retention period are gone, as in SQS (counted from the first send).
    private static func dropExpired(_ connection: PostgresConnection, _ queue: String, _ attributes: QueueAttributes, now: Int64) throws(StoreError) {
        let cutoff = now - Int64(attributes.messageRetentionSeconds) * 1000
        try connection.run("DELETE FROM queue_messages WHERE queue = ? AND sent_at <= ?", [.text(queue), .integer(cutoff)])
    }

    /// Visible messages already received `maxReceiveCount` times move to the dead-letter queue,
    /// unless it was deleted: nothing is dropped for want of a target.
    private static func redriveExhausted(_ connection: PostgresConnection, _ queue: String, _ attributes: QueueAttributes, now: Int64) throws(StoreError) {
        guard let policy = attributes.redrivePolicy, policy.deadLetterQueue != queue,
              try queueRow(connection, policy.deadLetterQueue) != nil else { return }
        try connection.run("""
            UPDATE queue_messages SET queue = ?, visible_at = ?, receive_count = 0, receipt_handle = NULL, first_received_at = NULL
            WHERE seq IN (SELECT seq FROM queue_messages WHERE queue = ? AND visible_at <= ? AND receive_count > 0 AND receive_count >= ?
                          FOR UPDATE SKIP LOCKED)
            """, [.text(policy.deadLetterQueue), .integer(now), .text(queue), .integer(now), .integer(Int64(policy.maxReceiveCount))])
    }
}
