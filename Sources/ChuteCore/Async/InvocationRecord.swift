/// The record an asynchronous invocation leaves in its OnSuccess / OnFailure destination, written
/// exactly as Lambda writes it (fields, order, timestamp with milliseconds):
///
///     {"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z",
///      "requestContext":{"requestId":"…","functionArn":"…:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":3},
///      "requestPayload":{…},
///      "responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},
///      "responsePayload":{"errorMessage":"…","errorType":"…","requestId":"…","stackTrace":[…]}}
///
/// Without any attempt that ran (reserved concurrency 0, or aged out while throttled) there is no
/// `responseContext` and no `responsePayload`.
public struct InvocationRecord: Sendable, Hashable {
    public var condition: InvocationCondition
    public var requestID: String
    /// The function's ARN with its qualifier, e.g. `arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST`.
    public var functionARN: String
    public var approximateInvokeCount: Int
    public var requestPayload: [UInt8]
    public var response: Response?
    public var timestampMilliseconds: Int64

    public struct Response: Sendable, Hashable {
        public var executedVersion: String
        public var functionError: FunctionErrorKind?
        /// The function's response, or the error payload for a failure.
        public var payload: [UInt8]
    }

    /// The record for `event` finishing with `condition`; `response` is the successful attempt's
    /// response, if that is how it finished.
    public init(event: AsyncEvent, condition: InvocationCondition, functionARN: String, successResponse: [UInt8]? = nil,
                timestampMilliseconds: Int64) {
        self.condition = condition
        self.requestID = event.requestID
        self.functionARN = functionARN
        self.approximateInvokeCount = event.invokeCount
        self.requestPayload = event.payload
        self.timestampMilliseconds = timestampMilliseconds
        if let successResponse, condition == .success {
            response = Response(executedVersion: event.qualifier, functionError: nil, payload: successResponse)
        } else if let failure = event.lastFailure, condition != .zeroReservedConcurrency {
            response = Response(executedVersion: event.qualifier, functionError: failure.kind,
                                payload: Array(Self.errorPayload(failure.error, requestID: event.requestID).utf8))
        } else {
            response = nil
        }
    }

    /// Lambda's error payload: `{"errorMessage","errorType","requestId","stackTrace"}`.
    public static func errorPayload(_ error: FunctionError, requestID: String) -> String {
        error.payload(requestID: requestID)
    }

    public var json: String { String(decoding: jsonBytes, as: UTF8.self) }

    /// The record as UTF-8 JSON, written straight into one buffer (one per finished event).
    public var jsonBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(320 + requestPayload.count + (response?.payload.count ?? 0))
        func raw(_ text: StaticString) { out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)) }
        raw(#"{"version":"1.0","timestamp":"#)
        JSONText.appendQuoted(Timestamps.iso8601(milliseconds: timestampMilliseconds), to: &out)
        raw(#","requestContext":{"requestId":"#)
        JSONText.appendQuoted(requestID, to: &out)
        raw(#","functionArn":"#)
        JSONText.appendQuoted(functionARN, to: &out)
        raw(#","condition":"#)
        JSONText.appendQuoted(condition.rawValue, to: &out)
        raw(#","approximateInvokeCount":"#)
        out.append(contentsOf: String(approximateInvokeCount).utf8)
        raw(#"},"requestPayload":"#)
        JSONText.appendEmbedded(requestPayload, to: &out)
        if let response {
            raw(#","responseContext":{"statusCode":200,"executedVersion":"#)
            JSONText.appendQuoted(response.executedVersion, to: &out)
            if let functionError = response.functionError {
                raw(#","functionError":"#)
                JSONText.appendQuoted(functionError.rawValue, to: &out)
            }
            raw(#"},"responsePayload":"#)
            if response.payload.isEmpty { raw("null") } else { JSONText.appendEmbedded(response.payload, to: &out) }
        }
        raw("}")
        return out
    }
}

/// What a function's dead-letter queue receives for a failed event: the original event as the
/// body, with Lambda's message attributes.
public struct DeadLetterMessage: Sendable, Hashable {
    public var body: [UInt8]
    public var requestID: String
    /// Lambda sends "200" (the Invoke status) for function errors.
    public var errorCode: String
    /// The error message, cut to its first 1 KB.
    public var errorMessage: String

    public init(event: AsyncEvent, condition: InvocationCondition) {
        body = event.payload
        requestID = event.requestID
        errorCode = "200"
        let message = event.lastFailure?.error.errorMessage ?? "Event failed: \(condition.rawValue)"
        errorMessage = Self.firstKilobyte(message)
    }

    /// At most 1024 UTF-8 bytes, never splitting a character.
    static func firstKilobyte(_ text: String) -> String {
        guard text.utf8.count > 1024 else { return text }
        var result = ""
        var bytes = 0
        for character in text {
            let size = character.utf8.count
            if bytes + size > 1024 { break }
            bytes += size
            result.append(character)
        }
        return result
    }

    /// Attributes as SQS carries them: name → (DataType, value).
    public var attributes: [(name: String, dataType: String, value: String)] {
        [("RequestID", "String", requestID), ("ErrorCode", "Number", errorCode), ("ErrorMessage", "String", errorMessage)]
    }
}
