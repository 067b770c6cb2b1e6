import ChuteCore

/// Everything one event, record or published message leaves behind, written in one transaction:
/// messages for built-in queues, events for functions, POSTs for HTTP endpoints (kept in the
/// outbox until delivered), and what could not be routed at all (kept for people).
public struct DeliveryPlan: Sendable {
    public var queueDeliveries: [QueueDelivery] = []
    public var followUps: [AsyncEvent] = []
    public var httpDeliveries: [HTTPDelivery] = []
    public var undeliverable: [UndeliverableDelivery] = []
    /// What fan-out (topics, rules, buses) has added so far, against `FanOutBudget`.
    public var fannedOut = FanOutBudget.Spent()

    public init() {}

    public var isEmpty: Bool { queueDeliveries.isEmpty && followUps.isEmpty && httpDeliveries.isEmpty && undeliverable.isEmpty }

    /// Shares what the plan's budget has left among the events for functions it made, as each
    /// one's chain allowance, so that what they lead to stays within the same budget. Call it
    /// once the plan is complete, before it is written.
    public mutating func shareAllowanceAmongFollowUps() {
        guard !followUps.isEmpty else { return }
        let share = max(0, fannedOut.deliveryLimit - fannedOut.deliveries) / followUps.count
        for index in followUps.indices where followUps[index].chainAllowance == nil { followUps[index].chainAllowance = share }
    }
}

/// A POST to an HTTP endpoint: delivered at least once from the store's outbox, retried with
/// backoff, and kept as undeliverable when its attempts run out.
public struct HTTPDelivery: Sendable, Hashable {
    public var url: String
    public var body: [UInt8]
    public var headers: [HTTPDeliveryHeader]
    /// The request id (or message id) the body is about, for people and logs.
    public var requestID: String
    /// The function whose record this is, for its `DestinationDeliveryFailures`; nil for messages.
    public var functionName: String?
    /// What asked for the delivery (a destination, subscription or rule target), for people.
    public var origin: String

    public init(url: String, body: [UInt8], headers: [HTTPDeliveryHeader], requestID: String, functionName: String? = nil, origin: String) {
        self.url = url
        self.body = body
        self.headers = headers
        self.requestID = requestID
        self.functionName = functionName
        self.origin = origin
    }
}

public struct HTTPDeliveryHeader: Sendable, Hashable, Codable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A delivery that could not be routed (its topic or bus does not exist, a loop was cut): kept
/// with the body it would have carried, so a person can redeliver it once the cause is fixed.
public struct UndeliverableDelivery: Sendable, Hashable {
    public var requestID: String
    /// The destination ARN or URL.
    public var destination: String
    public var reason: String
    /// The invocation record or message.
    public var record: String
    /// The function whose record this is; nil for published messages.
    public var functionName: String?

    public init(requestID: String, destination: String, reason: String, record: String, functionName: String? = nil) {
        self.requestID = requestID
        self.destination = destination
        self.reason = reason
        self.record = record
        self.functionName = functionName
    }
}

/// The most one request (a Publish, a PutEvents, one event's records) may fan out to: deliveries
/// and their bytes, undeliverable records included. Past it the rest is not made, and one
/// undeliverable record per origin says so, so that no request can multiply into millions of
/// rows or gigabytes, however its topics, rules and buses are wired.
public enum FanOutBudget {
    public static let deliveries = 10_000
    public static let bytes = 64 * 1_048_576

    public struct Spent: Sendable, Hashable {
        public var deliveries = 0
        public var bytes = 0
        /// Deliveries this plan may make: the whole budget, or what is left of it for an event
        /// further down a chain (`AsyncEvent.chainAllowance`).
        public var deliveryLimit = FanOutBudget.deliveries
        /// Origins (request ids) whose cut is already recorded.
        public var cut: Set<String> = []

        public init() {}

        public var isExhausted: Bool { deliveries >= deliveryLimit || bytes >= FanOutBudget.bytes }

        /// Whether one more delivery of `size` bytes fits.
        public func admits(_ size: Int) -> Bool { deliveries < deliveryLimit && bytes + size <= FanOutBudget.bytes }
    }
}
