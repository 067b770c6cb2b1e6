import ChuteCore
import FoundationEssentials

/// The HTTP outbox on PostgreSQL: one row per POST, claimed like events with
/// `FOR UPDATE SKIP LOCKED` under a lease.
extension PostgresStore: HTTPOutboxStore {
    static func insertHTTPDelivery(_ connection: PostgresConnection, _ delivery: HTTPDelivery, now: Int64) throws(StoreError) {
        try SharedStatements.insertHTTPDelivery(connection, delivery, now: now)
    }

    @discardableResult
    public func deliver(_ plan: DeliveryPlan, now: Int64, resolving: [Int64]) async throws -> SettleReport {
        guard !plan.isEmpty || !resolving.isEmpty else { return SettleReport() }
        return try await perform { connection throws(StoreError) in
            for id in resolving { try connection.run("DELETE FROM undeliverable_records WHERE id = ?", [.integer(id)]) }
            var report = try Self.writePlan(connection, plan, now: now)
            report.applied = 1
            return report
        }
    }

    /// Writes a plan inside the open transaction; reports the queue deliveries kept as undeliverable.
    @discardableResult
    static func writePlan(_ connection: PostgresConnection, _ plan: DeliveryPlan, now: Int64) throws(StoreError) -> SettleReport {
        var report = SettleReport()
        var queues: [String: QueueAttributes?] = [:]
        var messages = PendingMessages()
        for delivery in plan.queueDeliveries {
            if let problem = try deliver(connection, delivery, now: now, queues: &queues, into: &messages) {
                try keepUndeliverable(connection, requestID: "", destination: delivery.queue, reason: problem,
                                      record: String(decoding: delivery.message.body, as: UTF8.self))
                report.undelivered.append(UndeliveredQueueDelivery(requestID: "", functionName: "", queue: delivery.queue,
                                                                   purpose: delivery.purpose))
            }
        }
        try messages.write(connection)
        try insert(connection, plan.followUps)
        for delivery in plan.httpDeliveries { try insertHTTPDelivery(connection, delivery, now: now) }
        for kept in plan.undeliverable {
            try keepUndeliverable(connection, requestID: kept.requestID, destination: kept.destination, reason: kept.reason, record: kept.record)
        }
        return report
    }

    public func claimHTTPDeliveries(owner: String, now: Int64, limit: Int, leaseMilliseconds: Int64,
                                    excludingURLs: Set<String>) async throws -> [PendingHTTPDelivery] {
        guard limit > 0 else { return [] }
        let excluded = PostgresArray.text(excludingURLs.sorted())
        return try await perform(durable: false) { connection throws(StoreError) in
            var claimed: [PendingHTTPDelivery] = []
            try connection.run("""
                UPDATE http_outbox SET lease_owner = ?, lease_until = ? WHERE id IN (
                    SELECT id FROM http_outbox WHERE undeliverable_at IS NULL AND due_at <= ? AND (lease_owner IS NULL OR lease_until <= ?)
                    AND url <> ALL(?::text[]) ORDER BY due_at, id LIMIT ? FOR UPDATE SKIP LOCKED)
                RETURNING \(SharedStatements.outboxColumns)
                """, [.text(owner), .integer(now + leaseMilliseconds), .integer(now), .integer(now), excluded, .integer(Int64(limit))]) { row in
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
            let chosen = ids.map { "{" + $0.map(String.init).joined(separator: ",") + "}" }
            try connection.run("""
                UPDATE http_outbox SET undeliverable_at = NULL, attempts = 0, due_at = ?, lease_owner = NULL, lease_until = 0
                WHERE undeliverable_at IS NOT NULL AND (?::bigint[] IS NULL OR id = ANY(?2::bigint[]))
                """, [.integer(now), .optionalText(chosen)])
            return connection.changes
        }
    }

    public func pendingHTTPDeliveryCount() async throws -> Int {
        try await perform(durable: false) { connection throws(StoreError) in try SharedStatements.pendingHTTPDeliveryCount(connection) }
    }
}
