import ChuteCore
import ChuteHost
import Testing

/// Event source mappings in the configuration file: Lambda's parameter names, sources by name or
/// ARN, and every mistake reported with its line and path.
@Suite struct ConfigurationMappingsTests {
    static let functions = """
        functions:
          - {name: counter, library: libm.so.6, isolation: thread}
        """

    @Test func streamAndQueueMappingsAreRead() throws {
        let text = Self.functions + """

            mappings:
              - function: counter
                stream: clicks
                startingPosition: AT_TIMESTAMP
                startingPositionTimestamp: 1700000000.5
                batchSize: 500
                maximumBatchingWindowInSeconds: 2
                bisectBatchOnFunctionError: true
                maximumRetryAttempts: 3
                maximumRecordAgeInSeconds: 3600
                parallelizationFactor: 4
                functionResponseTypes: [ReportBatchItemFailures]
                filters: [{data: {kind: [click]}}, '{"partitionKey":[{"prefix":"eu-"}]}']
                onFailure: failures
              - {function: counter, queue: jobs, batchSize: 50, maximumBatchingWindowInSeconds: 1, enabled: false}
            """
        let file = try ConfigurationFile.parse(text, path: "chute.yaml")
        #expect(file.mappings.count == 2)
        let stream = file.mappings[0]
        #expect(stream.eventSourceARN == "arn:aws:kinesis:us-east-1:000000000000:stream/clicks")
        #expect(stream.settings.source == .stream)
        #expect(stream.settings.startingPosition == .atTimestamp)
        #expect(stream.settings.startingPositionTimestamp == 1_700_000_000.5)
        #expect(stream.settings.shardSettings == ShardProcessor.Settings(
            batchSize: 500, batchingWindowMilliseconds: 2_000, maximumRetryAttempts: 3, maximumRecordAgeMilliseconds: 3_600_000,
            bisectOnError: true, reportBatchItemFailures: true))
        #expect(stream.settings.parallelizationFactor == 4)
        #expect(stream.settings.filterPatterns == [#"{"data":{"kind":["click"]}}"#, #"{"partitionKey":[{"prefix":"eu-"}]}"#])
        #expect(stream.settings.onFailure == "arn:aws:sqs:us-east-1:000000000000:failures")
        let queue = file.mappings[1]
        #expect(queue.eventSourceARN == "arn:aws:sqs:us-east-1:000000000000:jobs")
        #expect(queue.settings.source == .queue && queue.settings.batchSize == 50 && !queue.settings.enabled)
    }

    @Test func everyMappingMistakeIsReportedWithItsLineAndPath() throws {
        let text = Self.functions + """

            mappings:
              - {function: nobody, stream: clicks, startingPosition: LATEST}
              - {function: counter, stream: clicks, queue: jobs, startingPosition: LATEST}
              - {function: counter, stream: clicks}
              - {function: counter, stream: clicks, startingPosition: LATEST, batchSize: 0, parallelizationFactor: 11}
              - {function: counter, queue: jobs, bisectBatchOnFunctionError: true}
              - {function: counter, stream: clicks, startingPosition: SOMETIME, colour: blue}
            """
        #expect {
            try ConfigurationFile.parse(text, path: "chute.yaml")
        } throws: { error in
            let problems = (error as? ConfigurationFileError)?.problems ?? []
            let expected = [
                "mappings[0].function: 'nobody' is not a function this file declares",
                "mappings[1]: needs exactly one of stream (a stream name), queue (a queue name) or eventSourceArn",
                "mappings[2]: StartingPosition is required for a stream",
                "Value '0' at 'batchSize' failed to satisfy constraint: Member must have value greater than or equal to 1",
                "Value '11' at 'parallelizationFactor' failed to satisfy constraint",
                "mappings[4]: BisectBatchOnFunctionError is not supported for an SQS event source",
                "mappings[5].colour: unknown field",
                "mappings[5].startingPosition: 'SOMETIME' is not TRIM_HORIZON, LATEST or AT_TIMESTAMP",
            ]
            return expected.allSatisfy { text in problems.contains { $0.contains(text) } } && problems.allSatisfy { $0.hasPrefix("line ") }
        }
    }
}
