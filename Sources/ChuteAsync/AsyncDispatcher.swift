import ChuteCore
import ChuteStore
import ChuteWorkers
import Synchronization

/// Runs accepted asynchronous invocations: claims due events from the store, runs each on its
/// function's pool, applies Lambda's retry rules, and settles the result with its records in one
/// transaction (destination record, dead-letter message, follow-up event for a function
/// destination).
///
/// `runDue(now:)` is one pass at a given time, which is how tests drive it with a virtual clock;
/// `run()` repeats it on the wall clock, woken at once by `accept`.
public final class AsyncDispatcher: Sendable {
    public let store: any AsyncEventStore
    public let directory: any AsyncFunctionDirectory
    /// This host's name in leases.
    public let owner: String
    private let leaseMilliseconds: Int64
    private let claimLimit: Int
    private let slots = SlotLimiter()
    private let counters = Mutex(AsyncStatistics())
    private let wakeUp = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let wakeRequested = Atomic<Bool>(false)

    public init(store: any AsyncEventStore, directory: any AsyncFunctionDirectory, owner: String,
                leaseMilliseconds: Int64 = 16 * 60 * 1000, claimLimit: Int = 256) {
        self.store = store
        self.directory = directory
        self.owner = owner
        self.leaseMilliseconds = leaseMilliseconds
        self.claimLimit = claimLimit
    }

    public var statistics: AsyncStatistics { counters.withLock { $0 } }

    // MARK: Accepting

    /// Stores events durably, then wakes the dispatcher. When this returns, the caller may answer
    /// 202: the events survive a crash.
    public func accept(_ events: [AsyncEvent]) async throws {
        try await store.accept(events)
        counters.withLock { $0.eventsReceived += events.count }
        wake()
    }

    private func wake() {
        wakeRequested.store(true, ordering: .releasing)
        wakeUp.withLock { waiter in
            waiter?.resume()
            waiter = nil
        }
    }

    // MARK: Running

    /// Runs until the task is cancelled: a pass whenever events were accepted, and at least every
    /// `pollMilliseconds` for retries that became due.
    public func run(pollMilliseconds: Int64 = 100, clock: @escaping @Sendable () -> Int64) async {
        while !Task.isCancelled {
            wakeRequested.store(false, ordering: .releasing)
            let ran = (try? await runDue(now: clock())) ?? 0
            if ran > 0 || wakeRequested.load(ordering: .acquiring) { continue }
            await sleep(milliseconds: pollMilliseconds)
        }
    }

    private func sleep(milliseconds: Int64) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                await withCheckedContinuation { continuation in
                    let resumeNow = wakeUp.withLock { waiter -> Bool in
                        if wakeRequested.load(ordering: .acquiring) { return true }
                        waiter?.resume()
                        waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: .milliseconds(milliseconds)) }
            await group.next()
            wake()  // release the other child
            group.cancelAll()
        }
        wakeRequested.store(false, ordering: .releasing)
    }

    /// Claims every event due at `now` (up to the claim limit), runs them concurrently within each
    /// function's concurrency, and settles each as it finishes. Returns how many were claimed.
    @discardableResult
    public func runDue(now: Int64) async throws -> Int {
        let events = try await store.claim(owner: owner, now: now, limit: claimLimit, leaseMilliseconds: leaseMilliseconds)
        await withTaskGroup(of: Void.self) { group in
            for event in events {
                group.addTask { [self] in await process(event, now: now) }
            }
        }
        return events.count
    }

    private func process(_ claimed: AsyncEvent, now: Int64) async {
        var event = claimed
        guard let function = directory.function(named: event.functionName) else {
            event.lastFailure = AttemptFailure(kind: .unhandled, error: FunctionError(
                errorType: "ResourceNotFoundException", errorMessage: "Function not found: \(event.functionName)"))
            let arn = "arn:aws:lambda:::function:\(event.functionName)"
            await settle(event, .finished(finish(event, .retriesExhausted, function: nil, arn: arn, response: nil, now: now)), now: now)
            return
        }
        let config = function.invokeConfig
        if let condition = AsyncRetryPolicy.expiry(of: event, now: now, config: config) {
            counters.withLock { $0.eventsDropped += 1 }
            await settle(event, .finished(finish(event, condition, function: function, arn: function.arn, response: nil, now: now)), now: now)
            return
        }
        let attempt: AttemptResult
        if function.reservedConcurrency == 0 {
            attempt = .zeroReservedConcurrency
        } else {
            await slots.acquire(function.name, limit: function.effectiveConcurrency)
            let result = await function.pool.invoke(Invocation(requestID: event.requestID, attempt: event.invokeCount + 1, payload: event.payload))
            slots.release(function.name)
            attempt = AttemptResult(result)
        }
        counters.withLock { counters in
            switch attempt {
            case .success: counters.invocations += 1
            case .functionError: counters.invocations += 1; counters.errors += 1
            case .throttled, .zeroReservedConcurrency: counters.throttles += 1
            case .hostFailure: counters.hostFailures += 1
            }
        }
        let response: [UInt8]? = if case .success(let bytes) = attempt { bytes } else { nil }
        switch AsyncRetryPolicy.next(after: attempt, for: &event, now: now, config: config) {
        case .runAgain:
            await settle(event, .runAgain, now: now)
        case .finish(let condition):
            if !condition.isSuccess { counters.withLock { $0.eventsDropped += 1 } }
            await settle(event, .finished(finish(event, condition, function: function, arn: function.arn, response: response, now: now)), now: now)
        }
    }

    private func settle(_ event: AsyncEvent, _ outcome: Settlement.Outcome, now: Int64) async {
        do {
            try await store.settle([Settlement(event: event, owner: owner, outcome: outcome)], now: now)
        } catch {
            // The lease still holds the event: it runs again once the lease expires (at-least-once).
            counters.withLock { $0.settleFailures += 1 }
        }
    }

    // MARK: Routing

    /// The records an event leaves when it finishes with `condition`.
    func finish(_ event: AsyncEvent, _ condition: InvocationCondition, function: AsyncFunction?, arn: String,
                response: [UInt8]?, now: Int64) -> FinishedEvent {
        let record = InvocationRecord(event: event, condition: condition, functionARN: "\(arn):\(event.qualifier)",
                                      successResponse: response, timestampMilliseconds: now).json
        var finished = FinishedEvent(condition: condition, record: record)
        let destination = condition.isSuccess ? function?.invokeConfig.onSuccess : function?.invokeConfig.onFailure
        if let destination {
            route(record: Array(record.utf8), to: destination, for: event, now: now, into: &finished)
        }
        if !condition.isSuccess, let target = function?.deadLetterTarget {
            let dead = DeadLetterMessage(event: event, condition: condition)
            switch Destination.parse(target) {
            case .success(.queue(let name)):
                let attributes = dead.attributes.map { MessageAttribute(name: $0.name, dataType: $0.dataType, value: $0.value) }
                finished.deliveries.append(QueueDelivery(queue: name, message: QueueMessage(body: dead.body, attributes: attributes)))
            case .success:
                finished.undeliverable.append((target, "dead-letter delivery to \(target) is not available yet: only queues are"))
            case .failure(let error):
                finished.undeliverable.append((target, error.message))
            }
        }
        let failures = finished.undeliverable.count
        if failures > 0 { counters.withLock { $0.destinationDeliveryFailures += failures } }
        return finished
    }

    private func route(record: [UInt8], to arn: String, for event: AsyncEvent, now: Int64, into finished: inout FinishedEvent) {
        switch Destination.parse(arn) {
        case .success(.queue(let name)):
            finished.deliveries.append(QueueDelivery(queue: name, message: QueueMessage(body: record)))
        case .success(.function(let name, let qualifier)):
            guard event.chainDepth < AsyncEvent.maximumChainDepth else {
                finished.undeliverable.append((arn, "invocation chain stopped after \(AsyncEvent.maximumChainDepth) functions (Lambda's recursion limit)"))
                return
            }
            var followUp = AsyncEvent(requestID: RequestID.make(), functionName: name, qualifier: qualifier, payload: record,
                                      receivedAtMilliseconds: now)
            followUp.chainDepth = event.chainDepth + 1
            finished.followUps.append(followUp)
        case .success(.topic), .success(.eventBus):
            finished.undeliverable.append((arn, "delivery to \(arn) is not available yet: queues and functions are"))
        case .failure(let error):
            finished.undeliverable.append((arn, error.message))
        }
    }
}

/// Counters for metrics (AWS's names where they exist).
public struct AsyncStatistics: Sendable, Hashable {
    public var eventsReceived = 0
    public var invocations = 0
    public var errors = 0
    public var throttles = 0
    public var hostFailures = 0
    /// Events that finished without a successful run (AsyncEventsDropped).
    public var eventsDropped = 0
    public var destinationDeliveryFailures = 0
    public var settleFailures = 0
}
