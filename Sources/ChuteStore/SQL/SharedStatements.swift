import ChuteCore
import FoundationEssentials

/// The statements the SQLite and PostgreSQL stores run alike, written once: both stores keep the
/// same tables under the same names. What differs (claims, batch rows and segments in SQLite,
/// `unnest` and `SKIP LOCKED` in PostgreSQL) stays in each store.
enum SharedStatements {
    // MARK: Events

    /// The columns a claim returns, in the order `claimedEvent` reads them.
    static let claimedColumns = """
        request_id, function_name, qualifier, payload, received_at, invoke_count, requeue_count, due_at,
        failure_kind, error_type, error_message, stack_trace, chain_depth
        """

    static func claimedEvent(_ row: some SQLRow) -> AsyncEvent {
        var event = AsyncEvent(requestID: row.text(0) ?? "", functionName: row.text(1) ?? "", qualifier: row.text(2) ?? "$LATEST",
                               payload: row.blob(3), receivedAtMilliseconds: row.integer(4))
        event.invokeCount = Int(row.integer(5))
        event.requeueCount = Int(row.integer(6))
        event.dueAtMilliseconds = row.integer(7)
        ChainPacking.unpack(row.integer(12), into: &event)
        if let kind = row.text(8).flatMap(FunctionErrorKind.init(rawValue:)) {
            let stack = row.text(11).map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) } ?? []
            event.lastFailure = AttemptFailure(kind: kind, error: FunctionError(
                errorType: row.text(9) ?? "", errorMessage: row.text(10) ?? "", stackTrace: stack))
        }
        return event
    }

    /// Stores an event's new schedule and history and gives up its lease, if `owner` still
    /// holds it; returns whether it did.
    static func reschedule(_ connection: some SQLConnection, _ event: AsyncEvent, owner: String) throws(StoreError) -> Bool {
        try connection.run("""
            UPDATE async_events SET invoke_count = ?, requeue_count = ?, due_at = ?, lane = 1,
                failure_kind = ?, error_type = ?, error_message = ?, stack_trace = ?, lease_owner = NULL, lease_until = 0
            WHERE request_id = ? AND lease_owner = ?
            """, [.integer(Int64(event.invokeCount)), .integer(Int64(event.requeueCount)), .integer(event.dueAtMilliseconds),
                  .optionalText(event.lastFailure?.kind.rawValue), .optionalText(event.lastFailure?.error.errorType),
                  .optionalText(event.lastFailure?.error.errorMessage),
                  .optionalText(event.lastFailure?.error.stackTrace.joined(separator: "\n")),
                  .text(event.requestID), .text(owner)]) { _ in }
        return connection.changes == 1
    }

    static func failedEvents(_ connection: some SQLConnection, where condition: String, _ bindings: [SQLValue]) throws(StoreError) -> [FailedEvent] {
        var failed: [FailedEvent] = []
        try connection.run("""
            SELECT request_id, function_name, qualifier, payload, received_at, invoke_count, condition, record, finished_at
            FROM failed_events WHERE \(condition)
            """, bindings) { row in
            var event = AsyncEvent(requestID: row.text(0) ?? "", functionName: row.text(1) ?? "", qualifier: row.text(2) ?? "$LATEST",
                                   payload: row.blob(3), receivedAtMilliseconds: row.integer(4))
            event.invokeCount = Int(row.integer(5))
            failed.append(FailedEvent(event: event, condition: InvocationCondition(rawValue: row.text(6) ?? "") ?? .retriesExhausted,
                                      record: row.text(7) ?? "", finishedAtMilliseconds: row.integer(8)))
        }
        return failed
    }

    static func keepUndeliverable(_ connection: some SQLConnection, requestID: String, destination: String, reason: String,
                                  record: String) throws(StoreError) {
        try connection.run("INSERT INTO undeliverable_records (request_id, destination, reason, record) VALUES (?, ?, ?, ?)",
                           [.text(requestID), .text(destination), .text(reason), .text(record)]) { _ in }
    }

    static func undeliverableRecords(_ connection: some SQLConnection, limit: Int) throws(StoreError) -> [UndeliverableRecord] {
        var records: [UndeliverableRecord] = []
        try connection.run("SELECT request_id, destination, reason, record, id FROM undeliverable_records ORDER BY id LIMIT ?",
                           [.integer(Int64(limit))]) { row in
            records.append(UndeliverableRecord(id: row.integer(4), requestID: row.text(0) ?? "", destination: row.text(1) ?? "",
                                               reason: row.text(2) ?? "", record: row.text(3) ?? ""))
        }
        return records
    }

    // MARK: Queues

    /// The queue and its attributes (message counts 0); nil if it does not exist.
    static func queueRow(_ connection: some SQLConnection, _ name: String) throws(StoreError) -> QueueState? {
        var state: QueueState?
        try connection.run("""
            SELECT visibility_timeout, retention, delay, maximum_size, receive_wait, dead_letter_queue, max_receive_count,
                   created_at, modified_at FROM queues WHERE name = ?
            """, [.text(name)]) { row in
            var attributes = QueueAttributes()
            attributes.visibilityTimeoutSeconds = Int(row.integer(0))
            attributes.messageRetentionSeconds = Int(row.integer(1))
            attributes.delaySeconds = Int(row.integer(2))
            attributes.maximumMessageBytes = Int(row.integer(3))
            attributes.receiveWaitSeconds = Int(row.integer(4))
            if let deadLetterQueue = row.text(5) {
                attributes.redrivePolicy = .init(deadLetterQueue: deadLetterQueue, maxReceiveCount: Int(row.integer(6)))
            }
            state = QueueState(name: name, attributes: attributes, createdAtMilliseconds: row.integer(7), modifiedAtMilliseconds: row.integer(8))
        }
        return state
    }

    static func writeAttributes(_ connection: some SQLConnection, _ name: String, _ attributes: QueueAttributes, now: Int64) throws(StoreError) {
        try connection.run("""
            UPDATE queues SET visibility_timeout = ?, retention = ?, delay = ?, maximum_size = ?, receive_wait = ?,
                dead_letter_queue = ?, max_receive_count = ?, modified_at = ? WHERE name = ?
            """, [.integer(Int64(attributes.visibilityTimeoutSeconds)), .integer(Int64(attributes.messageRetentionSeconds)),
                  .integer(Int64(attributes.delaySeconds)), .integer(Int64(attributes.maximumMessageBytes)),
                  .integer(Int64(attributes.receiveWaitSeconds)), .optionalText(attributes.redrivePolicy?.deadLetterQueue),
                  attributes.redrivePolicy.map { .integer(Int64($0.maxReceiveCount)) } ?? .null, .integer(now), .text(name)]) { _ in }
    }

    /// Receives up to `limit` visible messages, oldest first: hides them until `visibleUntil`,
    /// counts the receive and gives each a fresh receipt handle. `rowLock` is what the store adds
    /// to the choice of rows (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so hosts never share one).
    static func receive(_ connection: some SQLConnection, from queue: String, limit: Int, visibleUntil: Int64, now: Int64,
                        rowLock: String) throws(StoreError) -> [ReceivedMessage] {
        var received: [ReceivedMessage] = []
        try connection.run("""
            UPDATE queue_messages SET visible_at = ?, receive_count = receive_count + 1,
                receipt_handle = message_id || ':' || (receive_count + 1), first_received_at = coalesce(first_received_at, ?)
            WHERE seq IN (SELECT seq FROM queue_messages WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, seq LIMIT ? \(rowLock))
            RETURNING message_id, receipt_handle, body, attributes, receive_count, sent_at, first_received_at, seq
            """, [.integer(visibleUntil), .integer(now), .text(queue), .integer(now), .integer(Int64(limit))]) { row in
            received.append(receivedMessage(row))
        }
        return received.sorted { $0.sequence < $1.sequence }
    }

    /// Deletes a received message; false if the receipt handle is stale.
    static func deleteMessage(_ connection: some SQLConnection, from queue: String, receiptHandle: String) throws(StoreError) -> Bool {
        try connection.run("DELETE FROM queue_messages WHERE queue = ? AND receipt_handle = ?", [.text(queue), .text(receiptHandle)]) { _ in }
        return connection.changes == 1
    }

    static func changeVisibility(_ connection: some SQLConnection, in queue: String, receiptHandle: String, visibilityMilliseconds: Int64,
                                 now: Int64, rowLock: String) throws(StoreError) -> VisibilityChange {
        var visibleAt: Int64?
        try connection.run("SELECT visible_at FROM queue_messages WHERE queue = ? AND receipt_handle = ? \(rowLock)",
                           [.text(queue), .text(receiptHandle)]) { row in visibleAt = row.integer(0) }
        guard let visibleAt else { return .invalidReceiptHandle }
        guard visibleAt > now else { return .notInFlight }
        try connection.run("UPDATE queue_messages SET visible_at = ? WHERE queue = ? AND receipt_handle = ?",
                           [.integer(now + visibilityMilliseconds), .text(queue), .text(receiptHandle)]) { _ in }
        return .changed
    }

    /// The attributes of the queue a destination's or dead-letter message goes to, or why it
    /// cannot take the message (missing, or the message is over its size limit). `queues` caches
    /// attributes for the rest of the transaction (a settle sends many records to one queue).
    static func destination(_ connection: some SQLConnection, of delivery: QueueDelivery,
                            queues: inout [String: QueueAttributes?]) throws(StoreError) -> Result<QueueAttributes, DeliveryProblem> {
        let known: QueueAttributes?
        if let cached = queues[delivery.queue] {
            known = cached
        } else {
            known = try queueRow(connection, delivery.queue)?.attributes
            queues[delivery.queue] = .some(known)
        }
        guard let attributes = known else { return .failure(DeliveryProblem("the queue \(delivery.queue) does not exist")) }
        guard delivery.message.body.count <= attributes.maximumMessageBytes else {
            return .failure(DeliveryProblem(
                "the record of \(delivery.message.body.count) bytes is larger than the queue \(delivery.queue)'s MaximumMessageSize of \(attributes.maximumMessageBytes) bytes"))
        }
        return .success(attributes)
    }

    struct DeliveryProblem: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    static func receivedMessage(_ row: some SQLRow) -> ReceivedMessage {
        ReceivedMessage(
            messageID: row.text(0) ?? "", receiptHandle: row.text(1) ?? "",
            message: QueueMessage(body: row.blob(2), attributes: MessageAttributeCoding.attributes(row.text(3) ?? "{}")),
            receiveCount: Int(row.integer(4)), sentAtMilliseconds: row.integer(5), firstReceivedAtMilliseconds: row.integer(6),
            sequence: row.integer(7))
    }

    // MARK: HTTP outbox

    static func insertHTTPDelivery(_ connection: some SQLConnection, _ delivery: HTTPDelivery, now: Int64) throws(StoreError) {
        let headers = (try? JSONEncoder().encode(delivery.headers)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        try connection.run("""
            INSERT INTO http_outbox (url, body, headers, request_id, function_name, origin, due_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(delivery.url), .blob(delivery.body), .text(headers), .text(delivery.requestID), .optionalText(delivery.functionName),
                  .text(delivery.origin), .integer(now), .integer(now)]) { _ in }
    }

    /// The columns `pendingHTTPDelivery` reads, in its order.
    static let outboxColumns = "id, url, body, headers, request_id, function_name, origin, attempts, last_error"

    static func pendingHTTPDelivery(_ row: some SQLRow) -> PendingHTTPDelivery {
        let headers = (try? JSONDecoder().decode([HTTPDeliveryHeader].self, from: Data((row.text(3) ?? "[]").utf8))) ?? []
        return PendingHTTPDelivery(
            id: row.integer(0),
            delivery: HTTPDelivery(url: row.text(1) ?? "", body: row.blob(2), headers: headers, requestID: row.text(4) ?? "",
                                   functionName: row.text(5), origin: row.text(6) ?? ""),
            attempts: Int(row.integer(7)), lastError: row.text(8))
    }

    static func finishHTTPDelivery(_ connection: some SQLConnection, id: Int64, owner: String, outcome: HTTPDeliveryOutcome,
                                   now: Int64) throws(StoreError) {
        switch outcome {
        case .delivered:
            try connection.run("DELETE FROM http_outbox WHERE id = ? AND lease_owner = ?", [.integer(id), .text(owner)]) { _ in }
        case .retry(let dueAt, let error):
            try connection.run("""
                UPDATE http_outbox SET attempts = attempts + 1, due_at = ?, last_error = ?, lease_owner = NULL, lease_until = 0
                WHERE id = ? AND lease_owner = ?
                """, [.integer(dueAt), .text(error), .integer(id), .text(owner)]) { _ in }
        case .released:
            try connection.run("UPDATE http_outbox SET lease_owner = NULL, lease_until = 0 WHERE id = ? AND lease_owner = ?",
                               [.integer(id), .text(owner)]) { _ in }
        case .undeliverable(let error):
            try connection.run("""
                UPDATE http_outbox SET attempts = attempts + 1, undeliverable_at = ?, last_error = ?, lease_owner = NULL, lease_until = 0
                WHERE id = ? AND lease_owner = ?
                """, [.integer(now), .text(error), .integer(id), .text(owner)]) { _ in }
        }
    }

    static func undeliverableHTTPDeliveries(_ connection: some SQLConnection, limit: Int) throws(StoreError) -> [PendingHTTPDelivery] {
        var kept: [PendingHTTPDelivery] = []
        try connection.run("SELECT \(outboxColumns) FROM http_outbox WHERE undeliverable_at IS NOT NULL ORDER BY id LIMIT ?",
                           [.integer(Int64(limit))]) { row in kept.append(pendingHTTPDelivery(row)) }
        return kept
    }

    static func pendingHTTPDeliveryCount(_ connection: some SQLConnection) throws(StoreError) -> Int {
        var count = 0
        try connection.run("SELECT count(*) FROM http_outbox WHERE undeliverable_at IS NULL", []) { row in count = Int(row.integer(0)) }
        return count
    }

    // MARK: Streams

    static func streams(_ connection: some SQLConnection, where condition: String, _ bindings: [SQLValue]) throws(StoreError) -> [StreamDescription] {
        var streams: [StreamDescription] = []
        try connection.run("SELECT name, shard_count, retention_hours, created_at FROM streams WHERE \(condition) ORDER BY name", bindings) { row in
            streams.append(StreamDescription(name: row.text(0) ?? "", shardCount: Int(row.integer(1)), retentionHours: Int(row.integer(2)),
                                             createdAtMilliseconds: row.integer(3)))
        }
        return streams
    }

    /// Drops the shard's records that arrived before `cutoff` (reads skip them meanwhile). A
    /// shard's records arrive in sequence order, so this reads one row when none expired.
    static func trim(_ connection: some SQLConnection, stream: String, shard: Int, before cutoff: Int64) throws(StoreError) {
        var oldest: Int64?
        try connection.run("SELECT arrival FROM stream_records WHERE stream = ? AND shard = ? ORDER BY sequence LIMIT 1",
                           [.text(stream), .integer(Int64(shard))]) { row in oldest = row.integer(0) }
        guard let oldest, oldest < cutoff else { return }
        try connection.run("""
            DELETE FROM stream_records WHERE stream = ?1 AND shard = ?2 AND sequence < coalesce(
                (SELECT min(sequence) FROM stream_records WHERE stream = ?1 AND shard = ?2 AND arrival >= ?3), 9223372036854775807)
            """, [.text(stream), .integer(Int64(shard)), .integer(cutoff)]) { _ in }
    }

    static func lastSequence(_ connection: some SQLConnection, stream: String, shard: Int) throws(StoreError) -> UInt64 {
        var last: Int64 = 0
        try connection.run("SELECT coalesce(max(sequence), 0) FROM stream_records WHERE stream = ? AND shard = ?",
                           [.text(stream), .integer(Int64(shard))]) { row in last = row.integer(0) }
        return UInt64(max(0, last))
    }

    // MARK: Shard leases

    static func shardLeases(_ connection: some SQLConnection, mapping: String, owner: String? = nil) throws(StoreError) -> [ShardLease] {
        var leases: [ShardLease] = []
        let filter = owner == nil ? "" : " AND owner = ?"
        try connection.run("""
            SELECT shard, owner, lease_until, checkpoint, lease_counter FROM shard_leases WHERE mapping = ?\(filter) ORDER BY shard
            """, [.text(mapping)] + (owner.map { [.text($0)] } ?? [])) { row in
            leases.append(ShardLease(mapping: mapping, shard: row.text(0) ?? "", owner: row.text(1), untilMilliseconds: row.integer(2),
                                     checkpoint: row.isNull(3) ? nil : UInt64(clamping: row.integer(3)), counter: row.integer(4)))
        }
        return leases
    }

    static func takeShardLease(_ connection: some SQLConnection, _ lease: ShardLease, owner: String, until: Int64) throws(StoreError) -> Bool {
        try connection.run("""
            UPDATE shard_leases SET owner = ?, lease_until = ?, lease_counter = lease_counter + 1
            WHERE mapping = ? AND shard = ? AND lease_counter = ?
            """, [.text(owner), .integer(until), .text(lease.mapping), .text(lease.shard), .integer(lease.counter)]) { _ in }
        return connection.changes == 1
    }

    /// Stores the checkpoint if `owner` still holds `lease` (same counter, unexpired); returns
    /// whether it did.
    static func storeCheckpoint(_ connection: some SQLConnection, _ lease: ShardLease, owner: String, sequence: UInt64, now: Int64,
                                until: Int64) throws(StoreError) -> Bool {
        try connection.run("""
            UPDATE shard_leases SET checkpoint = ?, lease_until = ?
            WHERE mapping = ? AND shard = ? AND owner = ? AND lease_counter = ? AND lease_until > ?
            """, [.integer(Int64(clamping: sequence)), .integer(until), .text(lease.mapping), .text(lease.shard), .text(owner),
                  .integer(lease.counter), .integer(now)]) { _ in }
        return connection.changes == 1
    }

    static func releaseShardLeases(_ connection: some SQLConnection, mapping: String, owner: String) throws(StoreError) {
        try connection.run("UPDATE shard_leases SET owner = NULL, lease_until = 0 WHERE mapping = ? AND owner = ?",
                           [.text(mapping), .text(owner)]) { _ in }
    }

    static func moveCheckpoint(_ connection: some SQLConnection, mapping: String, shard: String, to sequence: UInt64) throws(StoreError) {
        try connection.run("""
            INSERT INTO shard_leases (mapping, shard, checkpoint) VALUES (?1, ?2, ?3)
            ON CONFLICT (mapping, shard) DO UPDATE SET checkpoint = ?3, owner = NULL, lease_until = 0
            """, [.text(mapping), .text(shard), .integer(Int64(clamping: sequence))]) { _ in }
    }

    static func deleteShardLeases(_ connection: some SQLConnection, mapping: String) throws(StoreError) {
        try connection.run("DELETE FROM shard_leases WHERE mapping = ?", [.text(mapping)]) { _ in }
    }

    // MARK: Definitions

    static func saveFunction(_ connection: some SQLConnection, name: String, definition: String, code: [UInt8]?, now: Int64) throws(StoreError) {
        if let code {
            try connection.run("""
                INSERT INTO function_definitions (name, definition, code, modified_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, code = excluded.code, modified_at = excluded.modified_at
                """, [.text(name), .text(definition), .blob(code), .integer(now)]) { _ in }
        } else {
            try connection.run("UPDATE function_definitions SET definition = ?, modified_at = ? WHERE name = ?",
                               [.text(definition), .integer(now), .text(name)]) { _ in }
            guard connection.changes == 1 else { throw StoreError("the function \(name) is not stored; save it with its code first") }
        }
    }

    static func storedFunctions(_ connection: some SQLConnection, withCode: Bool) throws(StoreError) -> [StoredFunction] {
        var functions: [StoredFunction] = []
        try connection.run("SELECT name, definition, \(withCode ? "code" : "NULL"), modified_at FROM function_definitions ORDER BY name", []) { row in
            functions.append(StoredFunction(name: row.text(0) ?? "", definition: row.text(1) ?? "", code: row.blob(2),
                                            modifiedAtMilliseconds: row.integer(3)))
        }
        return functions
    }

    static func deleteFunction(_ connection: some SQLConnection, named name: String) throws(StoreError) {
        try connection.run("DELETE FROM function_definitions WHERE name = ?", [.text(name)]) { _ in }
    }

    /// A topic, bus or mapping as one JSON document, replacing the one kept under its key.
    static func saveDefinition(_ connection: some SQLConnection, kind: String, arn: String, text: String) throws(StoreError) {
        try connection.run("""
            INSERT INTO messaging_definitions (kind, arn, definition) VALUES (?, ?, ?)
            ON CONFLICT (kind, arn) DO UPDATE SET definition = excluded.definition
            """, [.text(kind), .text(arn), .text(text)]) { _ in }
    }

    static func deleteDefinition(_ connection: some SQLConnection, kind: String, arn: String) throws(StoreError) {
        try connection.run("DELETE FROM messaging_definitions WHERE kind = ? AND arn = ?", [.text(kind), .text(arn)]) { _ in }
    }

    static func definitionTexts(_ connection: some SQLConnection, kind: String) throws(StoreError) -> [String] {
        var texts: [String] = []
        try connection.run("SELECT definition FROM messaging_definitions WHERE kind = ? ORDER BY arn", [.text(kind)]) { row in
            texts.append(row.text(0) ?? "")
        }
        return texts
    }
}
