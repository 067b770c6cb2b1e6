/// Lambda's retry rules for asynchronous invocations, as a pure function of an event, the result
/// of its attempt, the time and the configuration. The pipeline stores what it returns; tests drive
/// it with a virtual clock, so minutes and hours take no time.
///
/// - Function errors (timeouts included) are retried after the configured delays (1 min, then
///   2 min by default) up to `maximumRetryAttempts`, then fail with `RetriesExhausted`.
/// - Throttles and host failures are re-queued after 1 s, doubling up to 5 min, and use up no retry.
/// - Event age is checked ahead: when the next wait would pass `maximumEventAgeSeconds`, the event
///   fails now with `EventAgeExceeded` rather than after a pointless wait.
/// - Reserved concurrency 0 fails at once with `ZeroReservedConcurrency`.
public enum AsyncRetryPolicy {
    public static let firstRequeueDelayMilliseconds: Int64 = 1_000
    public static let maximumRequeueDelayMilliseconds: Int64 = 300_000

    /// What to do with an event after an attempt.
    public enum Step: Sendable, Hashable {
        /// Run it again at this time (a retry after a function error, or a re-queue).
        case runAgain(atMilliseconds: Int64)
        /// It is finished: write the invocation record with this condition.
        case finish(InvocationCondition)
    }

    /// Applies `result` to `event` (counts, last failure, due time) and says what comes next.
    public static func next(after result: AttemptResult, for event: inout AsyncEvent, now: Int64, config: EventInvokeConfig) -> Step {
        switch result {
        case .success:
            event.invokeCount += 1
            event.lastFailure = nil
            return .finish(.success)
        case .zeroReservedConcurrency:
            return .finish(.zeroReservedConcurrency)
        case .functionError(let failure):
            event.invokeCount += 1
            event.requeueCount = 0
            event.lastFailure = failure
            guard event.invokeCount <= config.maximumRetryAttempts else { return .finish(.retriesExhausted) }
            let delay = Int64((config.retryDelaySeconds(afterFailedAttempts: event.invokeCount) * 1000).rounded())
            return schedule(&event, at: now + delay, config: config)
        case .throttled, .hostFailure:
            event.requeueCount += 1
            let doubling = firstRequeueDelayMilliseconds << min(event.requeueCount - 1, 20)
            return schedule(&event, at: now + min(doubling, maximumRequeueDelayMilliseconds), config: config)
        }
    }

    /// An event found due after its maximum age (a host was down, a backlog built up) fails
    /// without running. Returns nil when it may still run.
    public static func expiry(of event: AsyncEvent, now: Int64, config: EventInvokeConfig) -> InvocationCondition? {
        event.ageMilliseconds(at: now) > Int64(config.maximumEventAgeSeconds) * 1000 ? .eventAgeExceeded : nil
    }

    private static func schedule(_ event: inout AsyncEvent, at time: Int64, config: EventInvokeConfig) -> Step {
        guard time - event.receivedAtMilliseconds <= Int64(config.maximumEventAgeSeconds) * 1000 else {
            return .finish(.eventAgeExceeded)
        }
        event.dueAtMilliseconds = time
        return .runAgain(atMilliseconds: time)
    }
}

/// Why an asynchronous invocation finished, as its invocation record names it.
public enum InvocationCondition: String, Sendable, Hashable, CaseIterable {
    case success = "Success"
    case retriesExhausted = "RetriesExhausted"
    case eventAgeExceeded = "EventAgeExceeded"
    case zeroReservedConcurrency = "ZeroReservedConcurrency"

    public var isSuccess: Bool { self == .success }
}
