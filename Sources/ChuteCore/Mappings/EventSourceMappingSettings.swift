/// An event source mapping's parameters, with Lambda's defaults and ranges: what
/// CreateEventSourceMapping takes and the configuration file declares.
public struct EventSourceMappingSettings: Sendable, Hashable, Codable {
    public enum Source: String, Sendable, Hashable, Codable {
        case stream, queue
    }

    public enum StartingPosition: String, Sendable, Hashable, Codable {
        case trimHorizon = "TRIM_HORIZON"
        case latest = "LATEST"
        case atTimestamp = "AT_TIMESTAMP"
    }

    public var source: Source
    public var enabled = true
    public var batchSize: Int
    public var maximumBatchingWindowSeconds = 0
    public var startingPosition: StartingPosition?
    /// Seconds since the epoch, for AT_TIMESTAMP (`startingMilliseconds` once validated).
    public var startingPositionTimestamp: Double?
    public var bisectBatchOnFunctionError = false
    /// -1: until the records expire.
    public var maximumRetryAttempts = -1
    /// -1: until the stream's retention drops them.
    public var maximumRecordAgeSeconds = -1
    public var parallelizationFactor = 1
    public var reportBatchItemFailures = false
    public var tumblingWindowSeconds = 0
    /// The filters' patterns (JSON text); a record passes when it matches any.
    public var filterPatterns: [String] = []
    /// The on-failure destination ARN (a queue or a topic; streams only).
    public var onFailure: String?

    /// Lambda's default batch size: 100 for streams, 10 for queues.
    public init(source: Source) {
        self.source = source
        batchSize = source == .stream ? 100 : 10
    }

    public static let maximumFilters = 5

    /// Every violated constraint as one error, in Lambda's terms: out-of-range values are a
    /// `ValidationException`, combinations Lambda refuses an `InvalidParameterValueException`.
    public func validate() throws(ServiceError) {
        var violations: [String] = []
        func range(_ value: Int, _ field: String, _ bounds: ClosedRange<Int>) {
            if value < bounds.lowerBound {
                violations.append("Value '\(value)' at '\(field)' failed to satisfy constraint: Member must have value greater than or equal to \(bounds.lowerBound)")
            } else if value > bounds.upperBound {
                violations.append("Value '\(value)' at '\(field)' failed to satisfy constraint: Member must have value less than or equal to \(bounds.upperBound)")
            }
        }
        range(batchSize, "batchSize", 1...10_000)
        range(maximumBatchingWindowSeconds, "maximumBatchingWindowInSeconds", 0...300)
        range(maximumRetryAttempts, "maximumRetryAttempts", -1...10_000)
        range(maximumRecordAgeSeconds, "maximumRecordAgeInSeconds", -1...604_800)
        range(parallelizationFactor, "parallelizationFactor", 1...10)
        range(tumblingWindowSeconds, "tumblingWindowInSeconds", 0...900)
        if !violations.isEmpty { throw ServiceError.validation(violations) }

        func invalid(_ message: String) -> ServiceError { ServiceError(type: "InvalidParameterValueException", message: message) }
        if (0..<60).contains(maximumRecordAgeSeconds) {
            throw invalid("MaximumRecordAgeInSeconds must be -1 or between 60 and 604800, not \(maximumRecordAgeSeconds)")
        }
        if filterPatterns.count > Self.maximumFilters {
            throw invalid("FilterCriteria has \(filterPatterns.count) filters; at most \(Self.maximumFilters) are allowed")
        }
        for (index, pattern) in filterPatterns.enumerated() {
            do { _ = try EventPattern(pattern, for: .rule) } catch {
                throw invalid("Invalid filter pattern definition: FilterCriteria.Filters[\(index)].Pattern: \(error)")
            }
        }
        if let onFailure {
            switch Destination.parse(onFailure) {
            case .success(.queue), .success(.topic): break
            case .success: throw invalid("The on-failure destination \(onFailure) must be an SQS queue or an SNS topic ARN")
            case .failure(let error): throw invalid(error.message)
            }
        }
        switch source {
        case .stream:
            guard let startingPosition else {
                throw invalid("StartingPosition is required for a stream: TRIM_HORIZON, LATEST or AT_TIMESTAMP")
            }
            if startingPosition == .atTimestamp, startingPositionTimestamp == nil {
                throw invalid("StartingPositionTimestamp is required with StartingPosition AT_TIMESTAMP")
            }
            if let timestamp = startingPositionTimestamp, Timestamps.milliseconds(fromSeconds: timestamp) == nil {
                throw invalid("StartingPositionTimestamp \(timestamp) is not a time: give seconds since 1970, between the years 1 and 9999")
            }
        case .queue:
            if batchSize > 10, maximumBatchingWindowSeconds < 1 {
                throw invalid("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
            }
            if startingPosition != nil { throw invalid("StartingPosition is not valid for an SQS event source") }
            let streamOnly: [(Bool, String)] = [
                (bisectBatchOnFunctionError, "BisectBatchOnFunctionError"), (maximumRetryAttempts != -1, "MaximumRetryAttempts"),
                (maximumRecordAgeSeconds != -1, "MaximumRecordAgeInSeconds"), (parallelizationFactor != 1, "ParallelizationFactor"),
                (tumblingWindowSeconds != 0, "TumblingWindowInSeconds"), (onFailure != nil, "DestinationConfig"),
            ]
            if let (_, name) = streamOnly.first(where: \.0) {
                throw invalid("\(name) is not supported for an SQS event source: a queue retries through its redrive policy")
            }
        }
    }

    /// Where AT_TIMESTAMP starts, in milliseconds since the epoch; 0 (the oldest record) when
    /// there is no valid timestamp, which `validate()` refuses before a mapping runs.
    public var startingMilliseconds: Int64 {
        startingPositionTimestamp.flatMap(Timestamps.milliseconds(fromSeconds:)) ?? 0
    }

    /// The shard processor's settings for these parameters.
    public var shardSettings: ShardProcessor.Settings {
        ShardProcessor.Settings(batchSize: batchSize, batchingWindowMilliseconds: Int64(maximumBatchingWindowSeconds) * 1000,
                                maximumRetryAttempts: maximumRetryAttempts < 0 ? nil : maximumRetryAttempts,
                                maximumRecordAgeMilliseconds: maximumRecordAgeSeconds < 0 ? nil : Int64(maximumRecordAgeSeconds) * 1000,
                                bisectOnError: bisectBatchOnFunctionError, reportBatchItemFailures: reportBatchItemFailures,
                                windowMilliseconds: tumblingWindowSeconds > 0 ? Int64(tumblingWindowSeconds) * 1000 : nil)
    }
}
