import ChuteCore
import Testing

/// Lambda's asynchronous retry rules, driven by a virtual clock (milliseconds): hours of retries
/// and event ages run in microseconds.
@Suite struct AsyncRetryPolicyTests {
    static let start: Int64 = 1_573_755_365_568  // 2019-11-14T18:16:05.568Z
    let failure = AttemptResult.functionError(AttemptFailure(kind: .unhandled, error: FunctionError(errorType: "Exception", errorMessage: "boom")))

    func event(at time: Int64 = start) -> AsyncEvent {
        AsyncEvent(requestID: "req-1", functionName: "f", payload: Array(#"{"n":1}"#.utf8), receivedAtMilliseconds: time)
    }

    /// Runs an event to its end: every attempt takes `runMilliseconds` and gives `result(attempt)`.
    func drive(_ config: EventInvokeConfig, runMilliseconds: Int64 = 1_000, result: (Int) -> AttemptResult)
        -> (event: AsyncEvent, condition: InvocationCondition, attemptTimes: [Int64]) {
        var event = event()
        var now = Self.start
        var times: [Int64] = []
        for attempt in 1...10_000 {
            times.append(now - Self.start)
            now += runMilliseconds
            switch AsyncRetryPolicy.next(after: result(attempt), for: &event, now: now, config: config) {
            case .finish(let condition): return (event, condition, times)
            case .runAgain(let time): now = time
            }
        }
        Issue.record("the event never finished")
        return (event, .success, times)
    }

    @Test func functionErrorsAreRetriedAfterOneThenTwoMinutes() {
        let (event, condition, times) = drive(EventInvokeConfig()) { _ in failure }
        #expect(condition == .retriesExhausted)
        #expect(event.invokeCount == 3)
        #expect(times == [0, 61_000, 182_000])
        #expect(event.requestID == "req-1")
    }

    @Test func zeroRetriesMeansOneAttempt() {
        let (event, condition, _) = drive(EventInvokeConfig(maximumRetryAttempts: 0)) { _ in failure }
        #expect(condition == .retriesExhausted)
        #expect(event.invokeCount == 1)
    }

    @Test func successAfterARetry() {
        let (event, condition, _) = drive(EventInvokeConfig()) { $0 == 1 ? failure : .success(response: []) }
        #expect(condition == .success)
        #expect(event.invokeCount == 2)
        #expect(event.lastFailure == nil)
    }

    @Test func eventAgeIsCheckedAhead() {
        // As recorded against AWS: a 60 s maximum age allows 1 attempt, 90 s allows 2.
        let sixty = drive(EventInvokeConfig(maximumEventAgeSeconds: 60)) { _ in failure }
        #expect(sixty.condition == .eventAgeExceeded)
        #expect(sixty.event.invokeCount == 1)
        let ninety = drive(EventInvokeConfig(maximumEventAgeSeconds: 90)) { _ in failure }
        #expect(ninety.condition == .eventAgeExceeded)
        #expect(ninety.event.invokeCount == 2)
    }

    @Test func functionRetryDelaysAreConfigurableForRealTimeUse() {
        let (_, condition, times) = drive(EventInvokeConfig(retryDelaysSeconds: [1, 2])) { _ in failure }
        #expect(condition == .retriesExhausted)
        #expect(times == [0, 2_000, 5_000])
    }

    @Test func throttlesBackOffFromOneSecondToFiveMinutesWithoutUsingRetries() {
        let (event, condition, times) = drive(EventInvokeConfig(), runMilliseconds: 0) { $0 <= 12 ? .throttled : failure }
        let waits = zip(times.dropFirst(), times).map { $0 - $1 }
        #expect(Array(waits.prefix(12)) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300].map { Int64($0) * 1000 })
        // The function errors that follow still get both retries.
        #expect(condition == .retriesExhausted)
        #expect(event.invokeCount == 3)
    }

    @Test func aThrottledEventAgesOutWithoutAResponse() {
        let config = EventInvokeConfig(maximumEventAgeSeconds: 600)
        let (event, condition, _) = drive(config, runMilliseconds: 0) { _ in .throttled }
        #expect(condition == .eventAgeExceeded)
        #expect(event.invokeCount == 0)
        let record = InvocationRecord(event: event, condition: condition, functionARN: "arn:f:$LATEST", timestampMilliseconds: Self.start)
        #expect(record.response == nil)
        #expect(!record.json.contains("responseContext"))
    }

    @Test func zeroReservedConcurrencyFailsAtOnce() {
        let (event, condition, times) = drive(EventInvokeConfig()) { _ in .zeroReservedConcurrency }
        #expect(condition == .zeroReservedConcurrency)
        #expect(times.count == 1)
        let record = InvocationRecord(event: event, condition: condition, functionARN: "arn:f:$LATEST", timestampMilliseconds: Self.start)
        #expect(record.approximateInvokeCount == 0)
        #expect(record.json == #"{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z","requestContext":{"requestId":"req-1","functionArn":"arn:f:$LATEST","condition":"ZeroReservedConcurrency","approximateInvokeCount":0},"requestPayload":{"n":1}}"#)
    }

    @Test func anEventFoundDueAfterItsMaximumAgeExpires() {
        let config = EventInvokeConfig(maximumEventAgeSeconds: 60)
        #expect(AsyncRetryPolicy.expiry(of: event(), now: Self.start + 60_000, config: config) == nil)
        #expect(AsyncRetryPolicy.expiry(of: event(), now: Self.start + 60_001, config: config) == .eventAgeExceeded)
    }

    @Test func outOfRangeSettingsAreRejectedInAWSWords() {
        #expect(throws: ServiceError.validation([
            "Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2",
        ])) { try EventInvokeConfig(maximumRetryAttempts: 3).validate() }
        let both = #expect(throws: ServiceError.self) {
            try EventInvokeConfig(maximumRetryAttempts: -1, maximumEventAgeSeconds: 59).validate()
        }
        #expect(both?.type == "ValidationException")
        #expect(both?.message.hasPrefix("2 validation errors detected: Value '-1' at 'maximumRetryAttempts'") == true)
        #expect(both?.message.contains("Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60") == true)
        #expect(throws: ServiceError.self) { try EventInvokeConfig(maximumEventAgeSeconds: 21_601).validate() }
        #expect(throws: ServiceError.self) { try EventInvokeConfig(retryDelaysSeconds: []).validate() }
        #expect(throws: Never.self) { try EventInvokeConfig(maximumRetryAttempts: 0, maximumEventAgeSeconds: 60).validate() }
    }
}

@Suite struct InvocationRecordTests {
    @Test func aFailureRecordMatchesLambdaFieldForField() {
        var event = AsyncEvent(requestID: "5a0c-1", functionName: "f", payload: Array(#"{"raise_error": 1}"#.utf8), receivedAtMilliseconds: 0)
        event.invokeCount = 3
        event.lastFailure = AttemptFailure(kind: .unhandled, error: FunctionError(
            errorType: "Runtime.ExitError", errorMessage: "RequestId: 5a0c-1 Error: Runtime exited with error: signal: segmentation fault"))
        let record = InvocationRecord(event: event, condition: .retriesExhausted,
                                      functionARN: "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST",
                                      timestampMilliseconds: 1_573_755_365_568)
        #expect(record.json == """
            {"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z",\
            "requestContext":{"requestId":"5a0c-1","functionArn":"arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST",\
            "condition":"RetriesExhausted","approximateInvokeCount":3},"requestPayload":{"raise_error": 1},\
            "responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},\
            "responsePayload":{"errorMessage":"RequestId: 5a0c-1 Error: Runtime exited with error: signal: segmentation fault",\
            "errorType":"Runtime.ExitError","requestId":"5a0c-1","stackTrace":[]}}
            """)
    }

    @Test func aSuccessRecordHasNoFunctionErrorAndEmbedsJSONResponses() {
        var event = AsyncEvent(requestID: "r", functionName: "f", payload: Array("not json".utf8), receivedAtMilliseconds: 0)
        event.invokeCount = 1
        let record = InvocationRecord(event: event, condition: .success, functionARN: "arn:f:$LATEST",
                                      successResponse: Array(#"{"ok":true}"#.utf8), timestampMilliseconds: 0)
        #expect(record.json == #"{"version":"1.0","timestamp":"1970-01-01T00:00:00.000Z","requestContext":{"requestId":"r","functionArn":"arn:f:$LATEST","condition":"Success","approximateInvokeCount":1},"requestPayload":"not json","responseContext":{"statusCode":200,"executedVersion":"$LATEST"},"responsePayload":{"ok":true}}"#)
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (Int64(951_782_400_001), "2000-02-29T00:00:00.001Z"),
        (Int64(1_798_761_599_999), "2026-12-31T23:59:59.999Z"),
        (Int64(-1), "1969-12-31T23:59:59.999Z"),
    ])
    func timestampsHaveMilliseconds(_ milliseconds: Int64, _ expected: String) {
        #expect(Timestamps.iso8601(milliseconds: milliseconds) == expected)
    }

    @Test func deadLetterMessagesCarryLambdasAttributes() {
        var event = AsyncEvent(requestID: "r-9", functionName: "f", payload: Array(#"{"a":1}"#.utf8), receivedAtMilliseconds: 0)
        event.lastFailure = AttemptFailure(kind: .handled, error: FunctionError(errorType: "E", errorMessage: String(repeating: "é", count: 600)))
        let message = DeadLetterMessage(event: event, condition: .retriesExhausted)
        #expect(message.body == event.payload)
        #expect(message.attributes.map(\.name) == ["RequestID", "ErrorCode", "ErrorMessage"])
        #expect(message.attributes[1].dataType == "Number" && message.errorCode == "200")
        #expect(message.errorMessage.utf8.count == 1024)
        #expect(message.errorMessage == String(repeating: "é", count: 512))
    }

    @Test func jsonStringsAreEscaped() {
        #expect(JSONText.quote("a\"b\\c\n\u{1}é") == #""a\"b\\c\n\u0001é""#)
        #expect(JSONText.isValid(Array("[1, {\"a\": null}]".utf8)))
        #expect(!JSONText.isValid(Array("{\"a\":".utf8)))
    }
}
