/// How a function's asynchronous invocations are retried and where their results go
/// (Lambda's `FunctionEventInvokeConfig`, per function and qualifier), plus Chute's retry delays.
public struct EventInvokeConfig: Sendable, Hashable, Codable {
    public static let retryAttemptsRange = 0...2
    public static let eventAgeRange = 60...21_600
    /// AWS waits 1 min, then 2 min, between retries of function errors.
    public static let defaultRetryDelaysSeconds: [Double] = [60, 120]

    public var maximumRetryAttempts: Int
    public var maximumEventAgeSeconds: Int
    /// Destination ARNs; nil when not configured.
    public var onSuccess: String?
    public var onFailure: String?
    /// Chute extension: the delay before retry N is element N-1 (the last repeats). Real-time
    /// users set e.g. [1, 2].
    public var retryDelaysSeconds: [Double]

    public init(maximumRetryAttempts: Int = 2, maximumEventAgeSeconds: Int = 21_600, onSuccess: String? = nil,
                onFailure: String? = nil, retryDelaysSeconds: [Double] = EventInvokeConfig.defaultRetryDelaysSeconds) {
        self.maximumRetryAttempts = maximumRetryAttempts
        self.maximumEventAgeSeconds = maximumEventAgeSeconds
        self.onSuccess = onSuccess
        self.onFailure = onFailure
        self.retryDelaysSeconds = retryDelaysSeconds
    }

    /// Every violated constraint, in AWS's words, as one `ValidationException`.
    public func validate() throws(ServiceError) {
        var violations: [String] = []
        if maximumRetryAttempts < Self.retryAttemptsRange.lowerBound {
            violations.append(Self.below("maximumRetryAttempts", maximumRetryAttempts, Self.retryAttemptsRange.lowerBound))
        } else if maximumRetryAttempts > Self.retryAttemptsRange.upperBound {
            violations.append(Self.above("maximumRetryAttempts", maximumRetryAttempts, Self.retryAttemptsRange.upperBound))
        }
        if maximumEventAgeSeconds < Self.eventAgeRange.lowerBound {
            violations.append(Self.below("maximumEventAgeInSeconds", maximumEventAgeSeconds, Self.eventAgeRange.lowerBound))
        } else if maximumEventAgeSeconds > Self.eventAgeRange.upperBound {
            violations.append(Self.above("maximumEventAgeInSeconds", maximumEventAgeSeconds, Self.eventAgeRange.upperBound))
        }
        if retryDelaysSeconds.isEmpty || retryDelaysSeconds.contains(where: { !($0 >= 0 && $0 <= 21_600) }) {
            violations.append("Value '\(retryDelaysSeconds)' at 'retryDelaysSeconds' failed to satisfy constraint: "
                              + "Member must be a non-empty list of seconds between 0 and 21600")
        }
        if !violations.isEmpty { throw ServiceError.validation(violations) }
    }

    /// The wait before the retry that follows `failedAttempts` function errors.
    public func retryDelaySeconds(afterFailedAttempts failedAttempts: Int) -> Double {
        retryDelaysSeconds[min(max(failedAttempts - 1, 0), retryDelaysSeconds.count - 1)]
    }

    private static func below(_ field: String, _ value: Int, _ minimum: Int) -> String {
        "Value '\(value)' at '\(field)' failed to satisfy constraint: Member must have value greater than or equal to \(minimum)"
    }

    private static func above(_ field: String, _ value: Int, _ maximum: Int) -> String {
        "Value '\(value)' at '\(field)' failed to satisfy constraint: Member must have value less than or equal to \(maximum)"
    }
}
