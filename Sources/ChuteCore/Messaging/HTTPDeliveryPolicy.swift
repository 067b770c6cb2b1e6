/// How POSTs to HTTP endpoints are retried: the first attempt at once, then after a delay that
/// doubles from `initialDelayMilliseconds` up to `maximumDelayMilliseconds`, until
/// `maximumAttempts` were made; each attempt is given `timeoutMilliseconds`.
public struct HTTPDeliveryPolicy: Sendable, Hashable {
    public var maximumAttempts: Int
    public var initialDelayMilliseconds: Int64
    public var maximumDelayMilliseconds: Int64
    public var timeoutMilliseconds: Int64
    /// Most POSTs in flight to one URL: a slow or dead endpoint holds this many and no more, so it
    /// never stalls deliveries to the others.
    public var perEndpointConcurrency: Int

    /// 8 attempts over about 2 minutes (1 s, 2 s, 4 s … 64 s apart), 10 s each.
    public init(maximumAttempts: Int = 8, initialDelayMilliseconds: Int64 = 1_000, maximumDelayMilliseconds: Int64 = 300_000,
                timeoutMilliseconds: Int64 = 10_000, perEndpointConcurrency: Int = 4) {
        self.maximumAttempts = maximumAttempts
        self.initialDelayMilliseconds = initialDelayMilliseconds
        self.maximumDelayMilliseconds = maximumDelayMilliseconds
        self.timeoutMilliseconds = timeoutMilliseconds
        self.perEndpointConcurrency = perEndpointConcurrency
    }

    /// The delay before the next attempt after `attemptsMade` failed ones; nil when they ran out.
    public func delay(afterFailedAttempts attemptsMade: Int) -> Int64? {
        guard attemptsMade < maximumAttempts else { return nil }
        let doublings = min(max(attemptsMade - 1, 0), 40)
        let delay = initialDelayMilliseconds.multipliedReportingOverflow(by: Int64(1) << doublings)
        return delay.overflow ? maximumDelayMilliseconds : min(delay.partialValue, maximumDelayMilliseconds)
    }
}
