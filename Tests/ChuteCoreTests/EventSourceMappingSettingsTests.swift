import ChuteCore
import Testing

/// Event source mapping parameters: Lambda's defaults, ranges and refused combinations.
@Suite struct EventSourceMappingSettingsTests {
    static func stream(_ change: (inout EventSourceMappingSettings) -> Void = { _ in }) -> EventSourceMappingSettings {
        var settings = EventSourceMappingSettings(source: .stream)
        settings.startingPosition = .trimHorizon
        change(&settings)
        return settings
    }

    @Test func defaultsAreLambdas() throws {
        let stream = Self.stream()
        #expect(stream.batchSize == 100)
        #expect(stream.maximumRetryAttempts == -1)
        #expect(stream.maximumRecordAgeSeconds == -1)
        #expect(stream.parallelizationFactor == 1)
        try stream.validate()
        #expect(EventSourceMappingSettings(source: .queue).batchSize == 10)
        try EventSourceMappingSettings(source: .queue).validate()
        #expect(stream.shardSettings.maximumRetryAttempts == nil)
        #expect(Self.stream { $0.maximumRecordAgeSeconds = 60 }.shardSettings.maximumRecordAgeMilliseconds == 60_000)
    }

    @Test func outOfRangeValuesAreOneValidationErrorListingEach() {
        let error = #expect(throws: ServiceError.self) {
            try Self.stream {
                $0.batchSize = 0
                $0.maximumRetryAttempts = 10_001
                $0.parallelizationFactor = 11
                $0.tumblingWindowSeconds = 901
            }.validate()
        }
        #expect(error?.type == "ValidationException")
        #expect(error?.message.hasPrefix("4 validation errors detected: Value '0' at 'batchSize'") == true)
        #expect(error?.message.contains("'parallelizationFactor' failed to satisfy constraint: Member must have value less than or equal to 10") == true)
    }

    @Test func refusedCombinationsNameTheParameter() {
        func message(_ settings: EventSourceMappingSettings) -> String? {
            do { try settings.validate() } catch { return "\(error.type): \(error.message)" }
            return nil
        }
        #expect(message(Self.stream { $0.maximumRecordAgeSeconds = 30 })?.contains("MaximumRecordAgeInSeconds must be -1 or between 60") == true)
        #expect(message(Self.stream { $0.startingPosition = nil })?.contains("StartingPosition is required") == true)
        #expect(message(Self.stream { $0.startingPosition = .atTimestamp })?.contains("StartingPositionTimestamp") == true)
        #expect(message(Self.stream { $0.filterPatterns = [#"{"data":{"a":[]}}"#] })?.contains("FilterCriteria.Filters[0].Pattern") == true)
        #expect(message(Self.stream { $0.onFailure = "arn:aws:lambda:us-east-1:000000000000:function:f" })?.contains("SQS queue or an SNS topic") == true)
        var queue = EventSourceMappingSettings(source: .queue)
        queue.batchSize = 100
        #expect(message(queue)?.hasPrefix("InvalidParameterValueException: Maximum batch window in seconds must be greater than 0") == true)
        queue.maximumBatchingWindowSeconds = 1
        queue.bisectBatchOnFunctionError = true
        #expect(message(queue)?.contains("BisectBatchOnFunctionError is not supported for an SQS event source") == true)
    }
}
