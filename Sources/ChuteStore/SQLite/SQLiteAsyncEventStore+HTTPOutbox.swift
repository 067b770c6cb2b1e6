import ChuteCore
import FoundationEssentials

/// The HTTP outbox in SQLite: one row per POST, leased like events.
extension SQLiteAsyncEventStore: HTTPOutboxStore {
    static let outboxSchema = """
        CREATE TABLE IF NOT EXISTS http_outbox (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            body BLOB NOT NULL,
            headers TEXT NOT NULL,
            request_id TEXT NOT NULL,
            function_name TEXT,
            origin TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            due_at INTEGER NOT NULL,
            lease_owner TEXT,
            lease_until INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            -- Set when the attempts ran out: the row stays for people until redelivered.
            undeliverable_at INTEGER,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS http_outbox_due ON http_outbox (due_at) WHERE undeliverable_at IS NULL;
        """

    static func insertHTTPDelivery(_ connection: SQLiteConnection, _ delivery: HTTPDelivery, now: Int64) throws(StoreError) {
        try SharedStatements.insertHTTPDelivery(connection, delivery, now: now)
    }

    @discardableResult
    public func deliver(_ plan: DeliveryPlan, now: Int64, resolving: [Int64]) async throws -> SettleReport {
        guard !plan.isEmpty || !resolving.isEmpty else { return SettleReport() }
        return try await perform { [self] connection throws(StoreError) in
            for id in resolving { try connection.run("DELETE FROM undeliverable_records WHERE id = ?", [.integer(id)]) }
            var report = try writePlan(connection, plan, now: now)
            report.applied = 1
            return report
        }
    }

    /// Writes a plan inside the open transaction; reports the queue deliveries kept as undeliverable.
    @discardableResult
    func writePlan(_ connection: SQLiteConnection, _ plan: DeliveryPlan, now: Int64) throws(StoreError) -> SettleReport {
        var report = SettleReport()
        var queues: [String: QueueAttributes?] = [:]
        var segments = PendingSegments()
        for delivery in plan.queueDeliveries {
            if let problem = try Self.deliver(connection, delivery, now: now, queues: &queues, into: &segments) {
                try Self.keepUndeliverable(connection, requestID: "", destination: delivery.queue, reason: problem,
                                           record: String(decoding: delivery.message.body, as: UTF8.self))
                report.undelivered.append(UndeliveredQueueDelivery(requestID: "", functionName: "", queue: delivery.queue,
                                                                   purpose: delivery.purpose))
            }
        }
        for followUp in plan.followUps { try insert(connection, followUp) }
        for delivery in plan.httpDeliveries { try Self.insertHTTPDelivery(connection, delivery, now: now) }
        for kept in plan.undeliverable {
            try Self.keepUndeliverable(connection, requestID: kept.requestID, destination: kept.destination, reason: kept.reason,
                                       record: kept.record)
        }
        try Self.writeSegments(connection, segments, sentAt: now)
        return report
    }

    public func claimHTTPDeliveries(owner: String, now: Int64, limit: Int, leaseMilliseconds: Int64,
                                    excludingURLs: Set<String>) async throws -> [PendingHTTPDelivery] {
        guard limit > 0 else { return [] }
        let excluded = "[" + excludingURLs.sorted().map(JSONText.quote).joined(separator: ",") + "]"
        return try await perform(durable: false) { connection throws(StoreError) in
            var claimed: [PendingHTTPDelivery] = []
            try connection.run("""
                UPDATE http_outbox SET lease_owner = ?, lease_until = ? WHERE id IN (
                    SELECT id FROM http_outbox WHERE undeliverable_at IS NULL AND due_at <= ? AND (lease_owner IS NULL OR lease_until <= ?)
                    AND url NOT IN (SELECT value FROM json_each(?)) ORDER BY due_at, id LIMIT ?)
                RETURNING \(SharedStatements.outboxColumns)
                """, [.text(owner), .integer(now + leaseMilliseconds), .integer(now), .integer(now), .text(excluded), .integer(Int64(limit))]) { row in
                claimed.append(SharedStatements.pendingHTTPDelivery(row))
            }
            return claimed.sorted { $0.id < $1.id }
        }
    }

    public func finishHTTPDelivery(id: Int64, owner: String, outcome: HTTPDeliveryOutcome, now: Int64) async throws {
        try await perform { connection throws(StoreError) in
            try SharedStatements.finishHTTPDelivery(connection, id: id, owner: owner, outcome: outcome, now: now)
        }
    }

    public func undeliverableHTTPDeliveries(limit: Int) async throws -> [PendingHTTPDelivery] {
        try await perform(durable: false) { connection throws(StoreError) in try SharedStatements.undeliverableHTTPDeliveries(connection, limit: limit) }
    }

    @discardableResult
    public func redeliverHTTPDeliveries(_ ids: [Int64]?, now: Int64) async throws -> Int {
        try await perform { connection throws(StoreError) in
            let chosen = ids.map { "AND id IN (SELECT value FROM json_each('[" + $0.map(String.init).joined(separator: ",") + "]'))" } ?? ""
            try connection.run("""
                UPDATE http_outbox SET undeliverable_at = NULL, attempts = 0, due_at = ?, lease_owner = NULL, lease_until = 0
                WHERE undeliverable_at IS NOT NULL \(chosen)
                """, [.integer(now)])
            return connection.changes
        }
    }

    public func pendingHTTPDeliveryCount() async throws -> Int {
        try await perform(durable: false) { connection throws(StoreError) in try SharedStatements.pendingHTTPDeliveryCount(connection) }
    }
}
