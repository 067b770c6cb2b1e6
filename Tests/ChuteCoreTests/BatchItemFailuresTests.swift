import ChuteCore
import Testing

/// ReportBatchItemFailures answers, as Lambda reads them for streams (the success and failure
/// scenarios of the recorded AWS tests).
@Suite struct BatchItemFailuresTests {
    static let batch = (5...7).map { StreamRecord(shardID: "s", sequence: UInt64($0), partitionKey: "k", data: [], arrivalMilliseconds: 0) }

    static func result(_ response: String) -> ShardProcessor.Result {
        BatchItemFailures.result(of: Array(response.utf8), batch: batch)
    }

    @Test func emptyAndNullAnswersAreSuccess() {
        for response in ["", "null", "{}", #"{"batchItemFailures":[]}"#, #"{"batchItemFailures":null}"#, "  "] {
            #expect(Self.result(response) == .success, "\(response)")
        }
    }

    @Test func theLowestListedSequenceNumberIsWhereTheBatchFails() {
        let six = Self.batch[1].sequenceNumber, seven = Self.batch[2].sequenceNumber
        #expect(Self.result(#"{"batchItemFailures":[{"itemIdentifier":"\#(seven)"},{"itemIdentifier":"\#(six)"}]}"#)
            == .partialFailure(firstFailedSequence: 6))
    }

    @Test func malformedEntriesFailTheWholeBatch() {
        let responses = [
            #"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
            #"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
            #"{"batchItemFailures":[{"foo":"bar"}]}"#,
            #"{"batchItemFailures":[{"foo":null}]}"#,
            #"{"batchItemFailures":[{"itemIdentifier":"\#(StreamRecord.sequenceNumber(99))"}]}"#,
            #"{"batchItemFailures":"all"}"#,
            #"{"somethingElse":1}"#,
            "not json",
            "[1]",
        ]
        for response in responses {
            #expect(Self.result(response) == .failure(functionError: nil), "\(response)")
        }
    }
}
