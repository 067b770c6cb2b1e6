/// The complete record of one attempt: the outcome plus what a person needs to understand it.
public struct InvocationReport: Sendable, Hashable {
    public var requestID: String
    /// 1 for the first attempt of an event, 2 for its first retry, ...
    public var attempt: Int
    public var outcome: InvocationOutcome
    /// Time the handler ran (from the start of the call to its end or to the host's verdict).
    public var durationNanoseconds: Int64
    /// Peak resident memory of the worker during the call, in process isolation; nil in thread
    /// isolation, where it cannot be told apart from the host's own memory.
    public var peakMemoryBytes: Int64?
    /// The last log lines of the call (handler `log` calls and captured stdout/stderr), bounded.
    public var logTail: [String]
    /// True when the host killed the worker because it passed its memory limit.
    public var memoryLimitExceeded: Bool

    public init(
        requestID: String, attempt: Int, outcome: InvocationOutcome, durationNanoseconds: Int64,
        peakMemoryBytes: Int64? = nil, logTail: [String] = [], memoryLimitExceeded: Bool = false
    ) {
        self.requestID = requestID
        self.attempt = attempt
        self.outcome = outcome
        self.durationNanoseconds = durationNanoseconds
        self.peakMemoryBytes = peakMemoryBytes
        self.logTail = logTail
        self.memoryLimitExceeded = memoryLimitExceeded
    }
}
