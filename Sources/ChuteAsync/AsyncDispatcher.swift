import ChuteCore
import ChuteStore
import ChuteWorkers
import Logging
import Synchronization

/// Runs accepted asynchronous invocations: takes events accepted while it runs straight from
/// `accept` (stored already leased to this host, `AcceptHandOff`) and claims the rest from the
/// store (retries that became due, overflow, other hosts' expired leases), runs them on their
/// functions' pools, applies Lambda's retry rules, and settles the results with their records in
/// one transaction each (destination record, dead-letter message, follow-up event for a function
/// destination).
///
/// Claimed events wait in per-function lanes (`FunctionLanes`); up to the function's concurrency
/// runners drain each lane in chunks, one pool hand-off and one store call per chunk rather than
/// per event. `run()` keeps claiming while earlier claims run, so a slow function never holds up
/// another one, and stops claiming a function whose lane is full. `runDue(now:)` is one pass at a
/// given time, run to completion: that is how tests drive it with a virtual clock.
public final class AsyncDispatcher: Sendable {
    public let store: any AsyncEventStore
    public let directory: any AsyncFunctionDirectory
    /// This host's name in leases.
    public let owner: String
    public let metrics: FunctionMetrics
    let logger: Logger
    private let leaseMilliseconds: Int64
    /// How long an event for a function this host does not know waits for one that does before it
    /// fails (hosts sharing a store take up each other's new functions within seconds); 0 alone.
    private let unknownFunctionGraceMilliseconds: Int64
    private let claimLimit: Int
    private let lanes = FunctionLanes()
    private let handOff = AcceptHandOff()
    /// False: every accepted event waits in the store for a claim (the benchmark compares both).
    private let handsOverAcceptedEvents: Bool
    /// Set when the store may hold events this host has not claimed (accepted without a lease,
    /// follow-ups, a full claim); hand-overs alone do not need a claim query.
    private let claimWanted = Atomic<Bool>(true)
    let counters = Mutex(AsyncStatistics())
    /// Events whose results the store refused, by request id: how many rounds of retries and a
    /// release they went through (`settle`).
    private let unsettledRounds = Mutex<[String: Int]>([:])
    private let settleRetryDelaysInUse: [Duration]
    private let wakeSignal = WakeSignal()
    /// Routes records to functions, topics and event buses; without a messaging directory it
    /// finds no topic or bus, and records for them are kept as undeliverable.
    let router: MessageRouter
    /// Called after a settle put POSTs in the HTTP outbox (the host wakes its delivery service).
    private let httpDeliveriesWritten: @Sendable () -> Void

    public init(store: any AsyncEventStore, directory: any AsyncFunctionDirectory, owner: String,
                metrics: FunctionMetrics = FunctionMetrics(), logger: Logger = Logger(label: "chute.async", factory: { _ in SwiftLogNoOpLogHandler() }),
                leaseMilliseconds: Int64 = singleHostLeaseMilliseconds, unknownFunctionGraceMilliseconds: Int64 = 0,
                claimLimit: Int = 256, handsOverAcceptedEvents: Bool = true, settleRetryDelays: [Duration] = AsyncDispatcher.settleRetryDelays,
                messaging: (any MessagingDirectory)? = nil, httpDeliveriesWritten: @escaping @Sendable () -> Void = {}) {
        self.settleRetryDelaysInUse = settleRetryDelays
        self.store = store
        self.router = MessageRouter(directory: messaging ?? NoMessaging())
        self.httpDeliveriesWritten = httpDeliveriesWritten
        self.directory = directory
        self.owner = owner
        self.metrics = metrics
        self.logger = logger
        self.leaseMilliseconds = leaseMilliseconds
        self.unknownFunctionGraceMilliseconds = unknownFunctionGraceMilliseconds
        self.claimLimit = claimLimit
        self.handsOverAcceptedEvents = handsOverAcceptedEvents
    }

    public var statistics: AsyncStatistics { counters.withLock { $0 } }

    /// Leases on a store of one host outlive the longest attempt (15 minutes); reopening the store
    /// releases them anyway. Hosts sharing a store use short leases, renewed while they live.
    public static let singleHostLeaseMilliseconds: Int64 = 16 * 60 * 1000

    // MARK: Accepting

    /// Stores events durably, then wakes the dispatcher. When this returns, the caller may answer
    /// 202: the events survive a crash. While `run()` runs with room to spare, the events are
    /// stored leased to this host and handed to it in memory (`AcceptHandOff`).
    public func accept(_ events: [AsyncEvent]) async throws {
        guard !events.isEmpty else { return }
        if handsOverAcceptedEvents, let now = handOff.reserve(events.count, admits: { admits(events, pendingAfter: $0) }) {
            do {
                let stored = try await store.accept(events, lease: EventLease(owner: owner, untilMilliseconds: now + leaseMilliseconds))
                if handOff.deliver(stored, reserved: events.count) {
                    counters.withLock { $0.eventsHandedOver += stored.count }
                } else {
                    // The dispatcher stopped meanwhile: the events go back to the store for any host.
                    claimWanted.store(true, ordering: .releasing)
                    do {
                        try await store.release(stored.map(\.requestID), owner: owner)
                    } catch {
                        logger.error("cannot release \(stored.count) accepted events; they run when their leases expire",
                                     metadata: ["error": "\(error)"])
                    }
                }
            } catch {
                handOff.cancel(reserved: events.count)
                throw error
            }
        } else {
            try await store.accept(events)
            claimWanted.store(true, ordering: .releasing)
        }
        counters.withLock { $0.eventsReceived += events.count }
        var perFunction: [String: Int] = [:]
        for event in events { perFunction[event.functionName, default: 0] += 1 }
        for (function, count) in perFunction { metrics.received(function, count: count) }
        wake()
    }

    /// Whether the running dispatcher can take `events` on top of what it holds, with
    /// `pendingAfter` events handed over or being handed over: within the hold limit, and no
    /// function's lane past its backlog limit (the same rule claims follow).
    private func admits(_ events: [AsyncEvent], pendingAfter: Int) -> Bool {
        guard lanes.held + pendingAfter <= holdLimit else { return false }
        var functions: Set<String> = []
        for event in events where functions.insert(event.functionName).inserted {
            guard lanes.waiting(event.functionName) + pendingAfter <= backlogLimit(event.functionName) else { return false }
        }
        return true
    }

    private func wake() {
        wakeSignal.wake()
    }

    /// Events were stored for any host to claim by another path than `accept` (a function
    /// subscribed to a topic, a rule's function target): claim them now, not at the next poll.
    public func storedEventsToClaim() {
        claimWanted.store(true, ordering: .releasing)
        wake()
    }

    // MARK: Running

    /// Most events held (claimed, not yet settled) at once: claims continue while earlier ones
    /// run, up to this.
    private var holdLimit: Int { claimLimit * 2 }

    /// Runs until the task is cancelled: runs events handed over by `accept`, claims whenever the
    /// store may hold events for it (accepted without a lease, follow-ups, a full claim) and room
    /// came free, and at least every `pollMilliseconds` for retries that became due. On
    /// cancellation, chunks already running finish and are stored; events held but not yet
    /// started are released.
    public func run(pollMilliseconds: Int64 = 100, clock: @escaping @Sendable () -> Int64) async {
        handOff.open(clock: clock)
        claimWanted.store(true, ordering: .releasing)
        var lastClaim = ContinuousClock.now
        await withDiscardingTaskGroup { group in
            group.addTask { [self] in await renewLeases(clock: clock) }
            while !Task.isCancelled {
                wakeSignal.reset()
                let handed = handOff.take()
                if !handed.isEmpty { startRunners(for: handed, in: &group, clock: clock) }
                let room = holdLimit - lanes.held - handOff.pending
                let pollDue = ContinuousClock.now - lastClaim >= .milliseconds(pollMilliseconds)
                if room > 0, claimWanted.exchange(false, ordering: .acquiringAndReleasing) || pollDue {
                    lastClaim = .now
                    let saturated = lanes.saturated(backlogLimit: backlogLimit)
                    do {
                        let claimed = try await store.claim(owner: owner, now: clock(), limit: min(claimLimit, room),
                                                            leaseMilliseconds: leaseMilliseconds, excluding: saturated)
                        // More may be waiting: the claim was full, or skipped functions that were busy.
                        if !claimed.isEmpty || !saturated.isEmpty { claimWanted.store(true, ordering: .releasing) }
                        if !claimed.isEmpty {
                            startRunners(for: claimed, in: &group, clock: clock)
                            continue
                        }
                    } catch {
                        logger.error("cannot claim events; trying again", metadata: ["error": "\(error)"])
                    }
                }
                if wakeSignal.isRequested { continue }
                await wakeSignal.sleep(milliseconds: pollMilliseconds)
            }
        }
        let unstarted = lanes.takeAllWaiting() + handOff.close()
        if !unstarted.isEmpty {
            do {
                try await store.release(unstarted.map(\.requestID), owner: owner)
            } catch {
                logger.error("cannot release \(unstarted.count) claimed events; they run again when their leases expire", metadata: ["error": "\(error)"])
            }
        }
    }

    /// The host's heartbeat: renews the leases of every event it holds, three times a lease, so
    /// events waiting in lanes or running as long as their function's timeout stay this host's,
    /// and a dead host's run again elsewhere once its leases expire.
    private func renewLeases(clock: @escaping @Sendable () -> Int64) async {
        while true {
            do {
                try await Task.sleep(for: .milliseconds(max(leaseMilliseconds / 3, 10)))
            } catch {
                return
            }
            do {
                try await store.renewLeases(owner: owner, now: clock(), leaseMilliseconds: leaseMilliseconds)
            } catch {
                logger.error("cannot renew event leases; trying again", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Claims every event due at `now` (up to the claim limit), runs them within each function's
    /// concurrency and stores every result before returning. Returns how many were claimed.
    @discardableResult
    public func runDue(now: Int64) async throws -> Int {
        let events = try await store.claim(owner: owner, now: now, limit: claimLimit, leaseMilliseconds: leaseMilliseconds)
        await withDiscardingTaskGroup { group in
            startRunners(for: events, in: &group, clock: { now })
        }
        return events.count
    }

    private func startRunners(for events: [AsyncEvent], in group: inout DiscardingTaskGroup, clock: @escaping @Sendable () -> Int64) {
        for function in lanes.add(events, runnerLimit: runnerLimit) {
            group.addTask { [self] in await drain(function, clock: clock) }
        }
    }

    /// One runner of a lane: chunk after chunk until the lane is empty (or the host stops). A
    /// chunk's results are stored while the next chunk runs; the runner ends only once they are.
    ///
    /// The storing runs as its own task (so the next chunk runs meanwhile), which does not inherit
    /// the runner's cancellation: it is passed on, so that a settle retrying against a broken store
    /// (a full disk) gives up when the host stops instead of holding up its shutdown.
    private func drain(_ functionName: String, clock: @escaping @Sendable () -> Int64) async {
        let storing = StoringTask()
        await withTaskCancellationHandler {
            while let chunk = lanes.nextChunk(for: functionName, runnerLimit: runnerLimit(functionName), stop: Task.isCancelled) {
                let started = ContinuousClock.now
                let settlements = await attempt(chunk, clock: clock)
                lanes.ran(functionName, events: chunk.count, nanoseconds: (ContinuousClock.now - started).nanoseconds)
                await storing.finish()
                storing.start { [self] in
                    await settle(settlements, now: clock())
                    lanes.settled(chunk.count)
                    wake()  // room for another claim
                }
            }
            await storing.finish()
        } onCancel: {
            storing.cancel()
        }
    }

    /// How many chunks of a function run at once.
    private func runnerLimit(_ functionName: String) -> Int {
        guard let function = directory.function(named: functionName) else { return 1 }
        return max(1, function.effectiveConcurrency)
    }

    /// How many claimed events of a function may wait before claims skip it: enough to keep its
    /// runners busy, few enough that even if each one takes the function's whole timeout they all
    /// start well within their leases.
    private func backlogLimit(_ functionName: String) -> Int {
        guard let function = directory.function(named: functionName) else { return claimLimit }
        let concurrency = max(1, function.effectiveConcurrency)
        let timeout = max(1, Int64(function.pool.configuration.timeoutSeconds * 1000))
        let withinLease = Int(Int64(concurrency) * (leaseMilliseconds / 2) / timeout)
        return min(holdLimit, max(concurrency, withinLease))
    }

    // MARK: Attempts

    /// Runs one chunk of a function's events: those that cannot run (unknown function, aged out,
    /// reserved concurrency 0) are concluded at once, the rest go to the pool in one hand-off.
    private func attempt(_ chunk: [AsyncEvent], clock: @Sendable () -> Int64) async -> [Settlement] {
        let now = clock()
        guard let function = directory.function(named: chunk[0].functionName) else {
            return chunk.map { unknownFunction($0, now: now) }
        }
        var settlements: [Settlement] = []
        var runnable: [AsyncEvent] = []
        for event in chunk {
            if let condition = AsyncRetryPolicy.expiry(of: event, now: now, config: function.invokeConfig) {
                counters.withLock { $0.eventsDropped += 1 }
                metrics.dropped(function.name)
                logger.notice("event aged out before its attempt", metadata: [
                    "requestId": "\(event.requestID)", "function": "\(function.name)", "condition": "\(condition.rawValue)"])
                settlements.append(Settlement(event: event, owner: owner,
                                              outcome: .finished(finish(event, condition, function: function, arn: function.arn, response: nil, now: now))))
            } else if function.reservedConcurrency == 0 {
                settlements.append(conclude(event, .zeroReservedConcurrency, function: function, now: now))
            } else {
                runnable.append(event)
            }
        }
        guard !runnable.isEmpty else { return settlements }
        for event in runnable {
            metrics.eventAge(function.name, milliseconds: now - event.receivedAtMilliseconds)
            metrics.started(function.name)
        }
        let results = await function.pool.invoke(batch: runnable.map {
            Invocation(requestID: $0.requestID, attempt: $0.invokeCount + 1, payload: $0.payload)
        })
        let finishedAt = clock()
        for (event, result) in zip(runnable, results) {
            if case .completed(let report) = result {
                metrics.finished(function.name, durationNanoseconds: report.durationNanoseconds, functionError: !report.outcome.isSuccess)
            } else {
                metrics.abandoned(function.name)
            }
            settlements.append(conclude(event, AttemptResult(result), function: function, now: finishedAt))
        }
        return settlements
    }

    private func unknownFunction(_ claimed: AsyncEvent, now: Int64) -> Settlement {
        var event = claimed
        if now - event.receivedAtMilliseconds < unknownFunctionGraceMilliseconds {
            // On a shared store the function may have been created on another host moments ago:
            // the event waits a second (no attempt used) for a host that knows it.
            event.dueAtMilliseconds = now + 1_000
            return Settlement(event: event, owner: owner, outcome: .runAgain)
        }
        event.lastFailure = AttemptFailure(kind: .unhandled, error: FunctionError(
            errorType: "ResourceNotFoundException", errorMessage: "Function not found: \(event.functionName)"))
        let arn = "arn:aws:lambda:::function:\(event.functionName)"
        return Settlement(event: event, owner: owner, outcome: .finished(finish(event, .retriesExhausted, function: nil, arn: arn, response: nil, now: now)))
    }

    /// Applies the retry policy to one attempt's result.
    private func conclude(_ claimed: AsyncEvent, _ attempt: AttemptResult, function: AsyncFunction, now: Int64) -> Settlement {
        var event = claimed
        switch attempt {
        case .throttled, .zeroReservedConcurrency: metrics.throttled(function.name)
        default: break
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
        switch AsyncRetryPolicy.next(after: attempt, for: &event, now: now, config: function.invokeConfig) {
        case .runAgain:
            logger.info("attempt \(event.invokeCount) failed; runs again", metadata: [
                "requestId": "\(event.requestID)", "function": "\(function.name)",
                "dueAt": "\(event.dueAtMilliseconds)", "error": "\(event.lastFailure?.error.errorType ?? "throttled")"])
            return Settlement(event: event, owner: owner, outcome: .runAgain)
        case .finish(let condition):
            if !condition.isSuccess {
                counters.withLock { $0.eventsDropped += 1 }
                metrics.dropped(function.name)
                logger.notice("event failed", metadata: [
                    "requestId": "\(event.requestID)", "function": "\(function.name)",
                    "condition": "\(condition.rawValue)", "attempts": "\(event.invokeCount)"])
            } else {
                logger.debug("event succeeded", metadata: [
                    "requestId": "\(event.requestID)", "function": "\(function.name)", "attempts": "\(event.invokeCount)"])
            }
            return Settlement(event: event, owner: owner,
                              outcome: .finished(finish(event, condition, function: function, arn: function.arn, response: response, now: now)))
        }
    }

    /// How long a settle that failed to commit (a full disk, a lost connection) waits before each
    /// retry; after the last one the events' leases are given back, so they run again within
    /// seconds on this host or another rather than when the leases expire (16 minutes alone).
    public static let settleRetryDelays: [Duration] = [.milliseconds(100), .milliseconds(300), .seconds(1), .seconds(2), .seconds(3)]

    private func settle(_ settlements: [Settlement], now: Int64) async {
        guard !settlements.isEmpty else { return }
        var failure: (any Error)?
        for delay in settleRetryDelaysInUse {
            failure = await settleOnce(settlements, now: now)
            guard failure != nil else { return forgetUnsettled(settlements) }
            do {
                try await Task.sleep(for: delay)
            } catch {
                return  // shutting down: the leases still hold the events, and a restart releases them
            }
        }
        failure = await settleOnce(settlements, now: now)
        guard let failure else { return forgetUnsettled(settlements) }
        // Results the store refuses every time (a record past its size limits) would run the
        // event again forever: after a few rounds the event is kept as failed instead, without
        // its records, for people to look at and redrive.
        let rounds = unsettledRounds.withLock { rounds in
            settlements.map { settlement in
                let round = (rounds[settlement.event.requestID] ?? 0) + 1
                rounds[settlement.event.requestID] = round
                return round
            }.max() ?? 0
        }
        if rounds >= Self.maximumUnsettledRounds, await settleOnce(settlements.map { keptAsFailed($0, failure, now: now) }, now: now) == nil {
            logger.error("kept \(settlements.count) events as failed: their results could not be stored", metadata: [
                "requestIds": "\(settlements.map(\.event.requestID).joined(separator: ","))", "error": "\(failure)"])
            return forgetUnsettled(settlements)
        }
        await releaseUnsettled(settlements.map(\.event.requestID))
    }

    /// Rounds of failed settles (each ending with a release) after which an event is kept as failed.
    public static let maximumUnsettledRounds = 3

    private func forgetUnsettled(_ settlements: [Settlement]) {
        unsettledRounds.withLock { rounds in
            guard !rounds.isEmpty else { return }
            for settlement in settlements { rounds[settlement.event.requestID] = nil }
        }
    }

    /// The event finished in failure, with a record saying why and nothing delivered.
    private func keptAsFailed(_ settlement: Settlement, _ failure: any Error, now: Int64) -> Settlement {
        var event = settlement.event
        event.lastFailure = AttemptFailure(kind: .unhandled, error: FunctionError(
            errorType: "Chute.ResultsNotStored",
            errorMessage: "the results of this event could not be stored after \(Self.maximumUnsettledRounds) rounds: \(failure)"))
        let arn = directory.function(named: event.functionName)?.arn ?? "arn:aws:lambda:::function:\(event.functionName)"
        let record = InvocationRecord(event: event, condition: .retriesExhausted, functionARN: "\(arn):\(event.qualifier)",
                                      timestampMilliseconds: now)
        return Settlement(event: event, owner: settlement.owner, outcome: .finished(FinishedEvent(
            condition: .retriesExhausted, record: String(decoding: record.jsonBytes, as: UTF8.self))))
    }

    /// Gives back the leases of events whose results could not be stored, retrying until the
    /// store takes it or the host stops: they run again (same request ids, at-least-once).
    private func releaseUnsettled(_ requestIDs: [String]) async {
        while !Task.isCancelled {
            do {
                try await store.release(requestIDs, owner: owner)
                claimWanted.store(true, ordering: .releasing)
                logger.warning("released \(requestIDs.count) events whose results could not be stored; they run again",
                               metadata: ["requestIds": "\(requestIDs.joined(separator: ","))"])
                return
            } catch {
                logger.error("cannot release events whose results could not be stored; trying again", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(2))
            }
        }
    }

    /// One attempt to store the results; the store's error when it refused (the caller retries).
    private func settleOnce(_ settlements: [Settlement], now: Int64) async -> (any Error)? {
        do {
            let report = try await store.settle(settlements, now: now)
            counters.withLock { $0.eventsSettled += settlements.count }
            if settlements.contains(where: { if case .finished(let finished) = $0.outcome { !finished.followUps.isEmpty } else { false } }) {
                claimWanted.store(true, ordering: .releasing)  // events for function destinations, due now
            }
            if settlements.contains(where: { if case .finished(let finished) = $0.outcome { !finished.httpDeliveries.isEmpty } else { false } }) {
                httpDeliveriesWritten()
            }
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
            return nil
        } catch {
            counters.withLock { $0.settleFailures += settlements.count }
            logger.error("cannot store the results of \(settlements.count) events; trying again", metadata: [
                "requestIds": "\(settlements.map(\.event.requestID).joined(separator: ","))", "error": "\(error)"])
            return error
        }
    }
}

/// The one task storing a runner's last chunk, which the runner's cancellation reaches.
private final class StoringTask: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let cancelled = Atomic<Bool>(false)

    func start(_ body: @escaping @Sendable () async -> Void) {
        let started = Task { await body() }
        task.withLock { $0 = started }
        if cancelled.load(ordering: .acquiring) { started.cancel() }
    }

    func finish() async {
        await task.withLock { $0 }?.value
    }

    func cancel() {
        cancelled.store(true, ordering: .releasing)
        task.withLock { $0 }?.cancel()
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
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
    /// Attempt results stored (finished or scheduled again), with everything they wrote.
    public var eventsSettled = 0
    /// Accepted events handed to the running dispatcher in memory, leased at once (no claim).
    public var eventsHandedOver = 0
}
