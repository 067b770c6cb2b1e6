import ChuteCore
import ChuteStore
import ChuteWorkers
import Logging
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
    public let metrics: FunctionMetrics
    private let logger: Logger
    private let leaseMilliseconds: Int64
    private let claimLimit: Int
    private let slots = SlotLimiter()
    private let counters = Mutex(AsyncStatistics())
    private let wakeUp = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let wakeRequested = Atomic<Bool>(false)

    public init(store: any AsyncEventStore, directory: any AsyncFunctionDirectory, owner: String,
                metrics: FunctionMetrics = FunctionMetrics(), logger: Logger = Logger(label: "chute.async", factory: { _ in SwiftLogNoOpLogHandler() }),
                leaseMilliseconds: Int64 = 16 * 60 * 1000, claimLimit: Int = 256) {
        self.store = store
        self.directory = directory
        self.owner = owner
        self.metrics = metrics
        self.logger = logger
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
        for event in events { metrics.received(event.functionName) }
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
        await withTaskGroup(of: Settlement.self) { group in
            for event in events {
                group.addTask { [self] in await process(event, now: now) }
            }
            // Results are stored in groups: one store call (one commit, one wake-up) per group
            // rather than per event.
            var ready: [Settlement] = []
            for await settlement in group {
                ready.append(settlement)
                if ready.count >= Self.settleGroupSize {
                    await settle(ready, now: now)
                    ready.removeAll(keepingCapacity: true)
                }
            }
            await settle(ready, now: now)
        }
        return events.count
    }

    /// Most results stored in one call while a claim is still running.
    static let settleGroupSize = 64

    private func process(_ claimed: AsyncEvent, now: Int64) async -> Settlement {
        var event = claimed
        guard let function = directory.function(named: event.functionName) else {
            event.lastFailure = AttemptFailure(kind: .unhandled, error: FunctionError(
                errorType: "ResourceNotFoundException", errorMessage: "Function not found: \(event.functionName)"))
            let arn = "arn:aws:lambda:::function:\(event.functionName)"
            return Settlement(event: event, owner: owner, outcome: .finished(finish(event, .retriesExhausted, function: nil, arn: arn, response: nil, now: now)))
        }
        let config = function.invokeConfig
        var logger = logger
        logger[metadataKey: "requestId"] = "\(event.requestID)"
        logger[metadataKey: "function"] = "\(function.name)"
        if let condition = AsyncRetryPolicy.expiry(of: event, now: now, config: config) {
            counters.withLock { $0.eventsDropped += 1 }
            metrics.dropped(function.name)
            logger.notice("event aged out before its attempt", metadata: ["condition": "\(condition.rawValue)"])
            return Settlement(event: event, owner: owner, outcome: .finished(finish(event, condition, function: function, arn: function.arn, response: nil, now: now)))
        }
        let attempt: AttemptResult
        if function.reservedConcurrency == 0 {
            attempt = .zeroReservedConcurrency
        } else {
            await slots.acquire(function.name, limit: function.effectiveConcurrency)
            metrics.eventAge(function.name, milliseconds: now - event.receivedAtMilliseconds)
            metrics.started(function.name)
            let result = await function.pool.invoke(Invocation(requestID: event.requestID, attempt: event.invokeCount + 1, payload: event.payload))
            slots.release(function.name)
            if case .completed(let report) = result {
                metrics.finished(function.name, durationNanoseconds: report.durationNanoseconds, functionError: !report.outcome.isSuccess)
            } else {
                metrics.abandoned(function.name)
            }
            attempt = AttemptResult(result)
        }
        if case .throttled = attempt { metrics.throttled(function.name) }
        if case .zeroReservedConcurrency = attempt { metrics.throttled(function.name) }
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
            logger.info("attempt \(event.invokeCount) failed; runs again", metadata: [
                "dueAt": "\(event.dueAtMilliseconds)", "error": "\(event.lastFailure?.error.errorType ?? "throttled")"])
            return Settlement(event: event, owner: owner, outcome: .runAgain)
        case .finish(let condition):
            if !condition.isSuccess {
                counters.withLock { $0.eventsDropped += 1 }
                metrics.dropped(function.name)
                logger.notice("event failed", metadata: ["condition": "\(condition.rawValue)", "attempts": "\(event.invokeCount)"])
            } else {
                logger.debug("event succeeded", metadata: ["attempts": "\(event.invokeCount)"])
            }
            return Settlement(event: event, owner: owner, outcome: .finished(finish(event, condition, function: function, arn: function.arn, response: response, now: now)))
        }
    }

    private func settle(_ settlements: [Settlement], now: Int64) async {
        guard !settlements.isEmpty else { return }
        do {
            let report = try await store.settle(settlements, now: now)
            for failure in report.undelivered {
                switch failure.purpose {
                case .destination:
                    counters.withLock { $0.destinationDeliveryFailures += 1 }
                    metrics.destinationDeliveryFailed(failure.functionName)
                case .deadLetter:
                    counters.withLock { $0.deadLetterErrors += 1 }
                    metrics.deadLetterFailed(failure.functionName)
                }
                logger.warning("a record could not be delivered and is kept for redelivery", metadata: [
                    "requestId": "\(failure.requestID)", "function": "\(failure.functionName)", "queue": "\(failure.queue)"])
            }
        } catch {
            // The leases still hold the events: they run again once the leases expire (at-least-once).
            counters.withLock { $0.settleFailures += settlements.count }
            logger.error("cannot settle \(settlements.count) events; they run again when their leases expire", metadata: [
                "requestIds": "\(settlements.map(\.event.requestID).joined(separator: ","))", "error": "\(error)"])
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
                finished.deliveries.append(QueueDelivery(queue: name, message: QueueMessage(body: dead.body, attributes: attributes),
                                                         purpose: .deadLetter))
            case .success:
                deadLetterFailure((target, "dead-letter delivery to \(target) is not available yet: only queues are"), event, into: &finished)
            case .failure(let error):
                deadLetterFailure((target, error.message), event, into: &finished)
            }
        }
        return finished
    }

    private func deadLetterFailure(_ failure: (String, String), _ event: AsyncEvent, into finished: inout FinishedEvent) {
        finished.undeliverable.append(failure)
        counters.withLock { $0.deadLetterErrors += 1 }
        metrics.deadLetterFailed(event.functionName)
    }

    private func destinationFailure(_ failure: (String, String), _ event: AsyncEvent, into finished: inout FinishedEvent) {
        finished.undeliverable.append(failure)
        counters.withLock { $0.destinationDeliveryFailures += 1 }
        metrics.destinationDeliveryFailed(event.functionName)
    }

    private func route(record: [UInt8], to arn: String, for event: AsyncEvent, now: Int64, into finished: inout FinishedEvent) {
        switch Destination.parse(arn) {
        case .success(.queue(let name)):
            finished.deliveries.append(QueueDelivery(queue: name, message: QueueMessage(body: record)))
        case .success(.function(let name, let qualifier)):
            guard event.chainDepth < AsyncEvent.maximumChainDepth else {
                destinationFailure((arn, "invocation chain stopped after \(AsyncEvent.maximumChainDepth) functions (Lambda's recursion limit)"), event, into: &finished)
                return
            }
            var followUp = AsyncEvent(requestID: RequestID.make(), functionName: name, qualifier: qualifier, payload: record,
                                      receivedAtMilliseconds: now)
            followUp.chainDepth = event.chainDepth + 1
            finished.followUps.append(followUp)
        case .success(.topic), .success(.eventBus):
            destinationFailure((arn, "delivery to \(arn) is not available yet: queues and functions are"), event, into: &finished)
        case .failure(let error):
            destinationFailure((arn, error.message), event, into: &finished)
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
    /// Dead-letter messages that could not be delivered (DeadLetterErrors).
    public var deadLetterErrors = 0
    public var settleFailures = 0
}
