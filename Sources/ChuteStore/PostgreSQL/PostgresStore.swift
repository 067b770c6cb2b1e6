import ChuteCore

/// The shared store: one PostgreSQL database that several `chute serve` hosts run from.
///
/// Hosts claim events, queue messages and HTTP deliveries with `FOR UPDATE SKIP LOCKED` under
/// leases with an expiry; a live host renews its leases (`renewLeases`), a dead one's expire and
/// another host runs the work again (at-least-once, same request id). Opening the store never
/// releases leases: other hosts may hold them. Everything a result writes (records to queues,
/// follow-up events, outbox POSTs, failure copies) commits in the transaction that settles it, as
/// with SQLite.
public final class PostgresStore: @unchecked Sendable {
    let pool: PostgresPool
    public let target: PostgresTarget

    /// Connects and creates the schema and tables that are missing. Hosts starting together take
    /// turns (an advisory lock), as concurrent `CREATE … IF NOT EXISTS` may collide.
    public init(_ target: PostgresTarget) throws {
        self.target = target
        pool = try PostgresPool(target)
        try pool.setUp { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) in
                try connection.execute("SELECT pg_advisory_xact_lock(7262390)")
                if let schema = connection.schema {
                    try connection.execute("CREATE SCHEMA IF NOT EXISTS \(PostgresConnection.quoted(schema))")
                }
                try connection.execute(Self.schema)
            }
        }
    }

    public convenience init(url: String) throws {
        try self.init(try PostgresTarget(url: url))
    }

    func perform<T: Sendable>(durable: Bool = true, _ body: @escaping @Sendable (PostgresConnection) throws(StoreError) -> T) async throws -> T {
        try await pool.perform(durable: durable, body)
    }
}

// MARK: Events

extension PostgresStore: AsyncEventStore {
    @discardableResult
    public func accept(_ events: [AsyncEvent], lease: EventLease?) async throws -> [AsyncEvent] {
        guard !events.isEmpty else { return [] }
        return try await perform { connection throws(StoreError) in
            var stored = try Self.insert(connection, events, lease: lease)
            return events.filter { stored.remove($0.requestID) != nil }
        }
    }

    /// Stores events in one statement, except request ids already stored; returns the ids it
    /// stored. `lane` 1 is for events that run again (retries, re-queues).
    @discardableResult
    static func insert(_ connection: PostgresConnection, _ events: [AsyncEvent], lease: EventLease? = nil, lane: Int64 = 0) throws(StoreError) -> Set<String> {
        guard !events.isEmpty else { return [] }
        var stored: Set<String> = []
        try connection.run("""
            INSERT INTO async_events (request_id, function_name, qualifier, payload, received_at,
                invoke_count, requeue_count, due_at, lane, chain_depth, failure_kind, error_type, error_message, stack_trace,
                lease_owner, lease_until)
            SELECT e.*, ?::text, ?::bigint FROM unnest(?::text[], ?::text[], ?::text[], ?::bytea[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[],
                                         ?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[]) AS e
            ON CONFLICT (request_id) DO NOTHING
            RETURNING request_id
            """, [.optionalText(lease?.owner), .integer(lease?.untilMilliseconds ?? 0),
                  PostgresArray.text(events.map(\.requestID)), PostgresArray.text(events.map(\.functionName)),
                  PostgresArray.text(events.map(\.qualifier)), PostgresArray.bytes(events.map(\.payload)),
                  PostgresArray.integers(events.map(\.receivedAtMilliseconds)), PostgresArray.integers(events.map { Int64($0.invokeCount) }),
                  PostgresArray.integers(events.map { Int64($0.requeueCount) }), PostgresArray.integers(events.map(\.dueAtMilliseconds)),
                  PostgresArray.integers(events.map { _ in lane }), PostgresArray.integers(events.map(ChainPacking.pack)),
                  PostgresArray.text(events.map { $0.lastFailure?.kind.rawValue }), PostgresArray.text(events.map { $0.lastFailure?.error.errorType }),
                  PostgresArray.text(events.map { $0.lastFailure?.error.errorMessage }),
                  PostgresArray.text(events.map { $0.lastFailure?.error.stackTrace.joined(separator: "\n") })]) { row in
            if let id = row.text(0) { stored.insert(id) }
        }
        return stored
    }

    public func claim(owner: String, now: Int64, limit: Int, leaseMilliseconds: Int64,
                      excluding: Set<String>) async throws -> [AsyncEvent] {
        guard limit > 0 else { return [] }
        let excluded = excluding.sorted()
        return try await perform(durable: false) { connection throws(StoreError) in
            let claim = { (condition: String, bindings: [PostgresValue], limit: Int) throws(StoreError) -> [AsyncEvent] in
                try Self.claim(connection, where: condition, bindings, owner: owner, until: now + leaseMilliseconds, limit: limit,
                               excluding: excluded)
            }
            let lane = { (lane: Int64, limit: Int) throws(StoreError) -> [AsyncEvent] in
                try claim("lease_owner IS NULL AND lane = ? AND due_at <= ?", [.integer(lane), .integer(now)], limit)
            }
            // Expired leases first: their holder died (or stalled) and they are the oldest work.
            var claimed = try claim("lease_owner IS NOT NULL AND lease_until <= ?", [.integer(now)], limit)
            // A quarter of each claim is kept for due retries, the rest for fresh events; either
            // lane fills what the other leaves.
            let retryShare = max(1, limit / 4)
            claimed += try lane(1, retryShare - min(claimed.count, retryShare))
            claimed += try lane(0, limit - claimed.count)
            claimed += try lane(1, limit - claimed.count)
            return claimed
        }
    }

    /// Leases up to `limit` events matching `condition`, oldest due first, skipping rows another
    /// host's claim has locked.
    private static func claim(_ connection: PostgresConnection, where condition: String, _ bindings: [PostgresValue], owner: String,
                              until: Int64, limit: Int, excluding: [String]) throws(StoreError) -> [AsyncEvent] {
        guard limit > 0 else { return [] }
        var events: [AsyncEvent] = []
        let exclusion = excluding.isEmpty ? "" : " AND function_name NOT IN (" + excluding.map { _ in "?" }.joined(separator: ", ") + ")"
        try connection.run("""
            UPDATE async_events SET lease_owner = ?, lease_until = ?
            WHERE request_id IN (SELECT request_id FROM async_events WHERE \(condition)\(exclusion) ORDER BY due_at LIMIT ?
                                 FOR UPDATE SKIP LOCKED)
            RETURNING \(SharedStatements.claimedColumns)
            """, [.text(owner), .integer(until)] + bindings + excluding.map { .text($0) } + [.integer(Int64(limit))]) { row in
            events.append(SharedStatements.claimedEvent(row))
        }
        return events.sorted { $0.dueAtMilliseconds < $1.dueAtMilliseconds }
    }

    public func renewLeases(owner: String, now: Int64, leaseMilliseconds: Int64) async throws {
        try await perform(durable: false) { connection throws(StoreError) in
            try connection.run("UPDATE async_events SET lease_until = ? WHERE lease_owner = ? AND lease_until > ?",
                               [.integer(now + leaseMilliseconds), .text(owner), .integer(now)])
        }
    }

    public func release(_ requestIDs: [String], owner: String) async throws {
        guard !requestIDs.isEmpty else { return }
        try await perform { connection throws(StoreError) in
            for id in requestIDs {
                try connection.run("UPDATE async_events SET lease_owner = NULL, lease_until = 0 WHERE request_id = ? AND lease_owner = ?",
                                   [.text(id), .text(owner)])
            }
        }
    }

    @discardableResult
    public func settle(_ settlements: [Settlement], now: Int64) async throws -> SettleReport {
        guard !settlements.isEmpty else { return SettleReport() }
        return try await perform { connection throws(StoreError) in
            var report = SettleReport()
            var queues: [String: QueueAttributes?] = [:]
            var messages = PendingMessages()
            var followUps: [AsyncEvent] = []
            // Finished events leave in one statement; only those whose lease still holds count.
            var removed: Set<String> = []
            let finishing = settlements.filter { if case .finished = $0.outcome { true } else { false } }
            if !finishing.isEmpty {
                try connection.run("""
                    DELETE FROM async_events e USING unnest(?::text[], ?::text[]) AS s(id, owner)
                    WHERE e.request_id = s.id AND e.lease_owner = s.owner RETURNING e.request_id
                    """, [PostgresArray.text(finishing.map(\.event.requestID)), PostgresArray.text(finishing.map(\.owner))]) { row in
                    if let id = row.text(0) { removed.insert(id) }
                }
            }
            for settlement in settlements {
                let event = settlement.event
                switch settlement.outcome {
                case .runAgain:
                    if try SharedStatements.reschedule(connection, event, owner: settlement.owner) { report.applied += 1 }
                case .finished(let finished):
                    guard removed.remove(event.requestID) != nil else { continue }
                    report.applied += 1
                    if !finished.condition.isSuccess {
                        try connection.run("""
                            INSERT INTO failed_events (request_id, function_name, qualifier, payload, received_at,
                                invoke_count, condition, record, finished_at, redriven_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
                            ON CONFLICT (request_id) DO UPDATE SET function_name = excluded.function_name, qualifier = excluded.qualifier,
                                payload = excluded.payload, received_at = excluded.received_at, invoke_count = excluded.invoke_count,
                                condition = excluded.condition, record = excluded.record, finished_at = excluded.finished_at,
                                redriven_at = NULL, id = nextval(pg_get_serial_sequence('failed_events', 'id'))
                            """, [.text(event.requestID), .text(event.functionName), .text(event.qualifier), .blob(event.payload),
                                  .integer(event.receivedAtMilliseconds), .integer(Int64(event.invokeCount)),
                                  .text(finished.condition.rawValue), .text(finished.record), .integer(now)])
                    }
                    for delivery in finished.deliveries {
                        if let problem = try Self.deliver(connection, delivery, now: now, queues: &queues, into: &messages) {
                            try Self.keepUndeliverable(connection, requestID: event.requestID, destination: delivery.queue,
                                                       reason: problem, record: finished.record)
                            report.undelivered.append(UndeliveredQueueDelivery(
                                requestID: event.requestID, functionName: event.functionName, queue: delivery.queue, purpose: delivery.purpose))
                        }
                    }
                    followUps += finished.followUps
                    for delivery in finished.httpDeliveries { try Self.insertHTTPDelivery(connection, delivery, now: now) }
                    for (destination, reason) in finished.undeliverable {
                        try Self.keepUndeliverable(connection, requestID: event.requestID, destination: destination, reason: reason,
                                                   record: finished.record)
                    }
                }
            }
            try messages.write(connection)
            try Self.insert(connection, followUps)
            return report
        }
    }

    static func keepUndeliverable(_ connection: PostgresConnection, requestID: String, destination: String, reason: String,
                                  record: String) throws(StoreError) {
        try SharedStatements.keepUndeliverable(connection, requestID: requestID, destination: destination, reason: reason, record: record)
    }

    public func failedEvents(limit: Int) async throws -> [FailedEvent] {
        try await perform(durable: false) { connection throws(StoreError) in
            try SharedStatements.failedEvents(connection, where: "redriven_at IS NULL ORDER BY finished_at DESC, id DESC LIMIT ?", [.integer(Int64(limit))])
        }
    }

    public func failedEvent(requestID: String) async throws -> FailedEvent? {
        try await perform(durable: false) { connection throws(StoreError) in
            try SharedStatements.failedEvents(connection, where: "redriven_at IS NULL AND request_id = ?", [.text(requestID)]).first
        }
    }

    @discardableResult
    public func redrive(_ requestIDs: [String]?, now: Int64) async throws -> [String] {
        try await perform { connection throws(StoreError) in
            var events: [AsyncEvent] = []
            let select = "SELECT request_id, function_name, qualifier, payload FROM failed_events WHERE redriven_at IS NULL"
            let collect: (PostgresRow) throws(StoreError) -> Void = { row in
                events.append(AsyncEvent(requestID: row.text(0) ?? "", functionName: row.text(1) ?? "", qualifier: row.text(2) ?? "$LATEST",
                                         payload: row.blob(3), receivedAtMilliseconds: now))
            }
            if let requestIDs {
                for id in requestIDs { try connection.run(select + " AND request_id = ? FOR UPDATE", [.text(id)], row: collect) }
            } else {
                try connection.run(select + " ORDER BY id FOR UPDATE", row: collect)
            }
            try Self.insert(connection, events)
            for event in events {
                try connection.run("UPDATE failed_events SET redriven_at = ? WHERE request_id = ?", [.integer(now), .text(event.requestID)])
            }
            return events.map(\.requestID)
        }
    }

    public func undeliverableRecords(limit: Int) async throws -> [UndeliverableRecord] {
        try await perform(durable: false) { connection throws(StoreError) in try SharedStatements.undeliverableRecords(connection, limit: limit) }
    }
}
