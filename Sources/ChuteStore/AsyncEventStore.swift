import ChuteCore

/// The durable side of asynchronous invocations and of the built-in queues they deliver to.
///
/// SQLite implements it for one host; a PostgreSQL implementation shared by several hosts will
/// too, which is why events are *leased*: a claim holds an event until its lease expires, so if a
/// host dies another one runs the event again (at-least-once, same request id). Both run the same
/// conformance suite (Tests/ChuteStoreTests).
public protocol AsyncEventStore: Sendable {
    /// Durably records accepted events. Returns once they are committed: only then may the
    /// caller answer 202. Concurrent calls are committed together (group commit).
    ///
    /// With a `lease`, the events are stored already claimed by its owner, who runs them straight
    /// from memory; no claim has to read them back (they expire and are taken over like claimed
    /// events). Returns the events stored: a request id already present is not accepted twice.
    @discardableResult
    func accept(_ events: [AsyncEvent], lease: EventLease?) async throws -> [AsyncEvent]

    /// Leases up to `limit` events due by `now` to `owner` until `now + leaseMilliseconds`.
    /// Fresh events and retries share every claim, so neither a backlog of retries nor a flood of
    /// fresh events stops the other. Events of the functions in `excluding` are left alone: the
    /// caller already holds as many of theirs as it can run (a slow function must not fill every
    /// claim and starve the others).
    func claim(owner: String, now: Int64, limit: Int, leaseMilliseconds: Int64, excluding: Set<String>) async throws -> [AsyncEvent]

    /// Extends every unexpired lease `owner` holds on events to `now + leaseMilliseconds`: a live
    /// host's heartbeat, so that leases can be short and a dead host's events run again soon.
    func renewLeases(owner: String, now: Int64, leaseMilliseconds: Int64) async throws

    /// Gives back leases `owner` holds on events it will not run (a host shutting down with
    /// claimed events not yet started): they are due again at once, for any host.
    func release(_ requestIDs: [String], owner: String) async throws

    /// Applies attempts' results, each in one transaction with everything it writes: the event's
    /// new schedule, or its removal with its records in built-in queues (destination, dead-letter
    /// queue) and, for failures, the copy kept for people. A settlement whose lease `owner` no
    /// longer holds is skipped (another host took the event over). `now` stamps what it writes.
    /// Reports how many were applied and which queue deliveries were kept as undeliverable.
    @discardableResult
    func settle(_ settlements: [Settlement], now: Int64) async throws -> SettleReport

    /// Events that finished in failure, newest first, for people to inspect and redrive.
    func failedEvents(limit: Int) async throws -> [FailedEvent]

    /// One failed event by request id (nil if it did not fail or was redriven).
    func failedEvent(requestID: String) async throws -> FailedEvent?

    /// Puts failed events back to run again as fresh events with their request ids (all of them
    /// when `requestIDs` is nil). Their failure records stay, marked redriven. Returns the ids.
    @discardableResult
    func redrive(_ requestIDs: [String]?, now: Int64) async throws -> [String]

    /// Records that a destination could not take, kept for redelivery.
    func undeliverableRecords(limit: Int) async throws -> [UndeliverableRecord]

    // MARK: Built-in queues

    /// Creates the queue unless it exists; returns the queue as it now is (an existing queue keeps
    /// its attributes, so the caller can tell a conflicting re-create).
    @discardableResult
    func createQueue(_ name: String, attributes: QueueAttributes, now: Int64) async throws -> QueueState
    /// The queue, its attributes and message counts at `now`; nil if it does not exist.
    func queue(_ name: String, now: Int64) async throws -> QueueState?
    /// The queue and its attributes without counting its messages (counts are 0): what every
    /// send, receive and delete needs, at the cost of one row read.
    func queueSettings(_ name: String) async throws -> QueueState?
    func queueNames() async throws -> [String]
    /// Replaces the queue's attributes. Throws if the queue does not exist.
    func setQueueAttributes(_ name: String, _ attributes: QueueAttributes, now: Int64) async throws
    /// Deletes the queue and its messages.
    func deleteQueue(_ name: String) async throws
    /// Deletes every message in the queue.
    func purgeQueue(_ name: String) async throws
    /// Appends messages, each hidden for its delay (the queue's when it has none); returns their
    /// ids. Throws if the queue does not exist.
    @discardableResult
    func send(_ messages: [QueueMessage], to queue: String, now: Int64) async throws -> [String]

    /// Up to `limit` visible messages, hidden for `visibilityMilliseconds` (the queue's visibility
    /// timeout when nil), receive counts raised. Drops messages past the retention period first, and
    /// moves messages received `maxReceiveCount` times to the redrive policy's dead-letter queue.
    func receive(from queue: String, limit: Int, visibilityMilliseconds: Int64?, now: Int64) async throws -> [ReceivedMessage]

    /// Deletes a received message; false if the receipt handle is stale.
    @discardableResult
    func delete(from queue: String, receiptHandle: String) async throws -> Bool

    /// Hides a message in flight for `visibilityMilliseconds` from `now`.
    func changeVisibility(in queue: String, receiptHandle: String, visibilityMilliseconds: Int64, now: Int64) async throws -> VisibilityChange
}

/// Who holds an event, until when.
public struct EventLease: Sendable, Hashable {
    public var owner: String
    public var untilMilliseconds: Int64

    public init(owner: String, untilMilliseconds: Int64) {
        self.owner = owner
        self.untilMilliseconds = untilMilliseconds
    }
}

extension AsyncEventStore {
    /// A store whose leases end with its one host's process (SQLite releases them on reopening)
    /// has nothing to renew.
    public func renewLeases(owner: String, now: Int64, leaseMilliseconds: Int64) async throws {}

    /// Stores events for any host to claim.
    public func accept(_ events: [AsyncEvent]) async throws {
        try await accept(events, lease: nil)
    }

    public func claim(owner: String, now: Int64, limit: Int, leaseMilliseconds: Int64) async throws -> [AsyncEvent] {
        try await claim(owner: owner, now: now, limit: limit, leaseMilliseconds: leaseMilliseconds, excluding: [])
    }

    /// Creates a queue with SQS's default attributes.
    public func createQueue(_ name: String) async throws {
        try await createQueue(name, attributes: QueueAttributes(), now: 0)
    }

    public func queueExists(_ name: String) async throws -> Bool {
        try await queueSettings(name) != nil
    }
}

/// A built-in queue as stored, with its message counts at one moment.
public struct QueueState: Sendable, Hashable {
    public var name: String
    public var attributes: QueueAttributes
    public var createdAtMilliseconds: Int64
    public var modifiedAtMilliseconds: Int64
    /// Messages that can be received now (`ApproximateNumberOfMessages`).
    public var visibleMessages: Int
    /// Received and hidden (`ApproximateNumberOfMessagesNotVisible`).
    public var inFlightMessages: Int
    /// Not yet delivered because of a delay (`ApproximateNumberOfMessagesDelayed`).
    public var delayedMessages: Int

    public init(name: String, attributes: QueueAttributes, createdAtMilliseconds: Int64, modifiedAtMilliseconds: Int64,
                visibleMessages: Int = 0, inFlightMessages: Int = 0, delayedMessages: Int = 0) {
        self.name = name
        self.attributes = attributes
        self.createdAtMilliseconds = createdAtMilliseconds
        self.modifiedAtMilliseconds = modifiedAtMilliseconds
        self.visibleMessages = visibleMessages
        self.inFlightMessages = inFlightMessages
        self.delayedMessages = delayedMessages
    }
}

public enum VisibilityChange: Sendable, Hashable {
    case changed
    /// The message is visible again (its receipt handle is current, but it is not in flight).
    case notInFlight
    /// No message has this receipt handle any more (deleted, or received again since).
    case invalidReceiptHandle
}

/// The result of one attempt, ready to be stored.
public struct Settlement: Sendable {
    /// The event as the retry policy left it (counts, due time, last failure).
    public var event: AsyncEvent
    /// Who leased the event for this attempt.
    public var owner: String
    public var outcome: Outcome

    public enum Outcome: Sendable {
        /// Run it again at `event.dueAtMilliseconds`.
        case runAgain
        /// It finished: write these records, keep a failure for people.
        case finished(FinishedEvent)
    }

    public init(event: AsyncEvent, owner: String, outcome: Outcome) {
        self.event = event
        self.owner = owner
        self.outcome = outcome
    }
}

public struct FinishedEvent: Sendable {
    public var condition: InvocationCondition
    /// The invocation record's JSON.
    public var record: String
    /// Messages for built-in queues: the destination's record, the dead-letter message.
    public var deliveries: [QueueDelivery]
    /// Deliveries that cannot be made by the store (unknown destination type, not configured
    /// yet): kept as undeliverable with the reason.
    public var undeliverable: [(destination: String, reason: String)]
    /// Events for function destinations (the record as their payload), accepted in the same
    /// transaction.
    public var followUps: [AsyncEvent]
    /// POSTs to HTTP endpoints, put in the outbox in the same transaction.
    public var httpDeliveries: [HTTPDelivery]

    public init(condition: InvocationCondition, record: String, deliveries: [QueueDelivery] = [],
                undeliverable: [(destination: String, reason: String)] = [], followUps: [AsyncEvent] = [],
                httpDeliveries: [HTTPDelivery] = []) {
        self.condition = condition
        self.record = record
        self.deliveries = deliveries
        self.undeliverable = undeliverable
        self.followUps = followUps
        self.httpDeliveries = httpDeliveries
    }

    /// Adds what a destination's routing produced.
    public mutating func add(_ plan: DeliveryPlan) {
        deliveries += plan.queueDeliveries
        followUps += plan.followUps
        httpDeliveries += plan.httpDeliveries
        undeliverable += plan.undeliverable.map { ($0.destination, $0.reason) }
    }
}

public struct QueueDelivery: Sendable, Hashable {
    public var queue: String
    public var message: QueueMessage
    public var purpose: Purpose

    public enum Purpose: Sendable, Hashable {
        /// The invocation record for an OnSuccess / OnFailure destination.
        case destination
        /// The original event for the function's dead-letter queue.
        case deadLetter
    }

    public init(queue: String, message: QueueMessage, purpose: Purpose = .destination) {
        self.queue = queue
        self.message = message
        self.purpose = purpose
    }
}

/// What `settle` did: the settlements applied, and the deliveries a queue could not take (kept
/// as undeliverable records), for metrics.
public struct SettleReport: Sendable, Hashable {
    public var applied = 0
    public var undelivered: [UndeliveredQueueDelivery] = []

    public init(applied: Int = 0, undelivered: [UndeliveredQueueDelivery] = []) {
        self.applied = applied
        self.undelivered = undelivered
    }
}

public struct UndeliveredQueueDelivery: Sendable, Hashable {
    public var requestID: String
    public var functionName: String
    public var queue: String
    public var purpose: QueueDelivery.Purpose

    public init(requestID: String, functionName: String, queue: String, purpose: QueueDelivery.Purpose) {
        self.requestID = requestID
        self.functionName = functionName
        self.queue = queue
        self.purpose = purpose
    }
}

public struct QueueMessage: Sendable, Hashable {
    public var body: [UInt8]
    public var attributes: [MessageAttribute]
    /// Seconds before its first delivery; nil takes the queue's `DelaySeconds`.
    public var delaySeconds: Int?

    public init(body: [UInt8], attributes: [MessageAttribute] = [], delaySeconds: Int? = nil) {
        self.body = body
        self.attributes = attributes
        self.delaySeconds = delaySeconds
    }
}


public struct ReceivedMessage: Sendable, Hashable {
    public var messageID: String
    public var receiptHandle: String
    public var message: QueueMessage
    public var receiveCount: Int
    public var sentAtMilliseconds: Int64
    public var firstReceivedAtMilliseconds: Int64
    /// Order of sending within the queue.
    public var sequence: Int64

    public init(messageID: String, receiptHandle: String, message: QueueMessage, receiveCount: Int, sentAtMilliseconds: Int64,
                firstReceivedAtMilliseconds: Int64, sequence: Int64) {
        self.messageID = messageID
        self.receiptHandle = receiptHandle
        self.message = message
        self.receiveCount = receiveCount
        self.sentAtMilliseconds = sentAtMilliseconds
        self.firstReceivedAtMilliseconds = firstReceivedAtMilliseconds
        self.sequence = sequence
    }
}

public struct FailedEvent: Sendable, Hashable {
    public var event: AsyncEvent
    public var condition: InvocationCondition
    public var record: String
    public var finishedAtMilliseconds: Int64
}

public struct UndeliverableRecord: Sendable, Hashable {
    /// Its number among kept records, for redelivering it.
    public var id: Int64
    public var requestID: String
    public var destination: String
    public var reason: String
    public var record: String
}

/// A store that cannot do what it was asked (I/O, corruption, misuse); never a function outcome.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// PostgreSQL's SQLSTATE when the server refused the statement (40001 and 40P01 are worth a retry).
    public var sqlState: String?

    public init(_ description: String, sqlState: String? = nil) {
        self.description = description
        self.sqlState = sqlState
    }
}
