/// The record Lambda sends to a stream mapping's on-failure destination for discarded records: no
/// records, only where they are (`KinesisBatchInfo`), so they can be read back from the stream.
///
///     {"requestContext":{"requestId":"…","functionArn":"…","condition":"RetryAttemptsExhausted","approximateInvokeCount":2},
///      "responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},
///      "version":"1.0","timestamp":"…",
///      "KinesisBatchInfo":{"shardId":"…","startSequenceNumber":"…","endSequenceNumber":"…",
///        "approximateArrivalOfFirstRecord":"…","approximateArrivalOfLastRecord":"…","batchSize":2,"streamArn":"…"}}
///
/// `RecordAgeExceeded` records have no `responseContext`; a batch whose partial failures ran out of
/// retries has `"functionError":null`.
public struct StreamFailureRecord: Sendable, Hashable {
    public var requestID: String
    /// The function's unqualified ARN.
    public var functionARN: String
    public var discard: ShardProcessor.Discard
    public var streamARN: String
    public var timestampMilliseconds: Int64

    public init(requestID: String, functionARN: String, discard: ShardProcessor.Discard, streamARN: String, timestampMilliseconds: Int64) {
        self.requestID = requestID
        self.functionARN = functionARN
        self.discard = discard
        self.streamARN = streamARN
        self.timestampMilliseconds = timestampMilliseconds
    }

    public var json: String {
        let records = discard.records
        var members: [(String, String)] = [
            ("requestContext", JSONText.object([
                ("requestId", JSONText.quote(requestID)),
                ("functionArn", JSONText.quote(functionARN)),
                ("condition", JSONText.quote(discard.condition.rawValue)),
                ("approximateInvokeCount", String(discard.invokeCount)),
            ])),
        ]
        if discard.condition == .retryAttemptsExhausted {
            members.append(("responseContext", JSONText.object([
                ("statusCode", "200"),
                ("executedVersion", JSONText.quote("$LATEST")),
                ("functionError", discard.lastFunctionError.map(JSONText.quote) ?? "null"),
            ])))
        }
        members += [
            ("version", JSONText.quote("1.0")),
            ("timestamp", JSONText.quote(Timestamps.iso8601(milliseconds: timestampMilliseconds))),
            ("KinesisBatchInfo", JSONText.object([
                ("shardId", JSONText.quote(records.first?.shardID ?? "")),
                ("startSequenceNumber", JSONText.quote(records.first?.sequenceNumber ?? "")),
                ("endSequenceNumber", JSONText.quote(records.last?.sequenceNumber ?? "")),
                ("approximateArrivalOfFirstRecord", JSONText.quote(Timestamps.iso8601(milliseconds: records.first?.arrivalMilliseconds ?? 0))),
                ("approximateArrivalOfLastRecord", JSONText.quote(Timestamps.iso8601(milliseconds: records.last?.arrivalMilliseconds ?? 0))),
                ("batchSize", String(records.count)),
                ("streamArn", JSONText.quote(streamARN)),
            ])),
        ]
        return JSONText.object(members)
    }
}
