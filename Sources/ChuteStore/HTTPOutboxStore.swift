/// The outbox of POSTs to HTTP endpoints. Deliveries enter it in the same transaction as what
/// caused them (a settle, a publish); a delivery service claims them with a lease, POSTs them,
/// and reports each outcome. At-least-once: a host that dies mid-POST leaves the lease to expire,
/// and the delivery is made again. When a delivery's attempts run out it stays in the outbox,
/// marked undeliverable, until a person redelivers it.
public protocol HTTPOutboxStore: Sendable {
    /// Writes a plan's deliveries (queue messages, follow-up events, HTTP POSTs, unroutable
    /// records) in one transaction: what SNS Publish and EventBridge PutEvents store. The kept
    /// undeliverable records in `resolving` (being redelivered by this plan) are removed in it.
    @discardableResult
    func deliver(_ plan: DeliveryPlan, now: Int64, resolving: [Int64]) async throws -> SettleReport
    /// Leases up to `limit` deliveries due by `now`, oldest first, leaving out `excludingURLs`
    /// (endpoints that already have as many POSTs in flight as they may).
    func claimHTTPDeliveries(owner: String, now: Int64, limit: Int, leaseMilliseconds: Int64,
                             excludingURLs: Set<String>) async throws -> [PendingHTTPDelivery]
    /// Records a claimed delivery's outcome; ignored if `owner` no longer holds it.
    func finishHTTPDelivery(id: Int64, owner: String, outcome: HTTPDeliveryOutcome, now: Int64) async throws
    /// Deliveries whose attempts ran out, oldest first.
    func undeliverableHTTPDeliveries(limit: Int) async throws -> [PendingHTTPDelivery]
    /// Puts undeliverable deliveries back in the outbox with fresh attempts (all when `ids` is nil);
    /// returns how many.
    @discardableResult
    func redeliverHTTPDeliveries(_ ids: [Int64]?, now: Int64) async throws -> Int
    /// Deliveries waiting to be made (not undeliverable).
    func pendingHTTPDeliveryCount() async throws -> Int
}

extension HTTPOutboxStore {
    @discardableResult
    public func deliver(_ plan: DeliveryPlan, now: Int64) async throws -> SettleReport {
        try await deliver(plan, now: now, resolving: [])
    }
}

/// A delivery as the outbox holds it.
public struct PendingHTTPDelivery: Sendable, Hashable {
    public var id: Int64
    public var delivery: HTTPDelivery
    /// POSTs made so far.
    public var attempts: Int
    public var lastError: String?

    public init(id: Int64, delivery: HTTPDelivery, attempts: Int, lastError: String?) {
        self.id = id
        self.delivery = delivery
        self.attempts = attempts
        self.lastError = lastError
    }
}

public enum HTTPDeliveryOutcome: Sendable, Hashable {
    /// The endpoint answered 2xx: the delivery leaves the outbox.
    case delivered
    /// Try again at `dueAt`.
    case retry(dueAt: Int64, error: String)
    /// The attempts ran out: kept, marked undeliverable.
    case undeliverable(error: String)
    /// Not attempted (the host is stopping): due again at once for any host, attempts unchanged.
    case released
}
