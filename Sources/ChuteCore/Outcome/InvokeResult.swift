/// What asking a function pool to run an invocation gives back.
///
/// A throttle is not a function error: the handler never ran, no attempt was used, and the
/// pipelines re-queue the event with backoff instead of retrying it.
public enum InvokeResult: Sendable, Hashable {
    case completed(InvocationReport)
    case throttled(Throttle)

    public var report: InvocationReport? {
        if case .completed(let report) = self { return report }
        return nil
    }
}

/// Why an invocation was refused without running.
public struct Throttle: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        /// Every instance the concurrency limit allows is busy.
        case concurrencyLimitReached(limit: Int)
        /// Thread isolation: too many threads were abandoned after timeouts to start another.
        case abandonedThreadLimitReached(limit: Int)
        /// The function's reserved concurrency is zero.
        case reservedConcurrencyZero
        /// The pool is shutting down and takes no new work.
        case shuttingDown
        /// Process isolation: the process that starts workers died and is being started again.
        case workersRestarting
        /// Process isolation: the host runs as many worker processes, across functions, as it may.
        case hostInstanceLimitReached(limit: Int)
    }

    public var reason: Reason
    public var functionName: String

    public init(reason: Reason, functionName: String) {
        self.reason = reason
        self.functionName = functionName
    }

    public var description: String {
        switch reason {
        case .concurrencyLimitReached(let limit):
            "Rate Exceeded: function \(functionName) is running \(limit) of \(limit) concurrent invocations"
        case .abandonedThreadLimitReached(let limit):
            "Rate Exceeded: function \(functionName) cannot start an instance: \(limit) timed-out threads are still running"
        case .reservedConcurrencyZero:
            "Rate Exceeded: function \(functionName) has reserved concurrency 0"
        case .shuttingDown:
            "function \(functionName) is shutting down"
        case .workersRestarting:
            "function \(functionName) is restarting its worker processes"
        case .hostInstanceLimitReached(let limit):
            "Rate Exceeded: function \(functionName) cannot start an instance: the host runs \(limit) worker processes, its limit"
        }
    }
}
