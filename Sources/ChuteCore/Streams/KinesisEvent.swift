import FoundationEssentials

/// The event Lambda hands a function for a batch of stream records:
///
///     {"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"…","sequenceNumber":"…",
///        "data":"BASE64","approximateArrivalTimestamp":1545084650.987},
///      "eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-…:SEQ","eventName":"aws:kinesis:record",
///      "invokeIdentityArn":"…","awsRegion":"…","eventSourceARN":"…"}]}
public enum KinesisEvent {
    public static func json(_ records: [StreamRecord], streamARN: String, region: String, roleARN: String) -> String {
        var out = #"{"Records":["#
        for (index, record) in records.enumerated() {
            if index > 0 { out += "," }
            out += recordJSON(record, streamARN: streamARN, region: region, roleARN: roleARN)
        }
        return out + "]}"
    }

    public static func recordJSON(_ record: StreamRecord, streamARN: String, region: String, roleARN: String) -> String {
        let seconds = Double(record.arrivalMilliseconds) / 1000
        let kinesis = JSONText.object([
            ("kinesisSchemaVersion", JSONText.quote("1.0")),
            ("partitionKey", JSONText.quote(record.partitionKey)),
            ("sequenceNumber", JSONText.quote(record.sequenceNumber)),
            ("data", JSONText.quote(Data(record.data).base64EncodedString())),
            ("approximateArrivalTimestamp", String(seconds)),
        ])
        return JSONText.object([
            ("kinesis", kinesis),
            ("eventSource", JSONText.quote("aws:kinesis")),
            ("eventVersion", JSONText.quote("1.0")),
            ("eventID", JSONText.quote("\(record.shardID):\(record.sequenceNumber)")),
            ("eventName", JSONText.quote("aws:kinesis:record")),
            ("invokeIdentityArn", JSONText.quote(roleARN)),
            ("awsRegion", JSONText.quote(region)),
            ("eventSourceARN", JSONText.quote(streamARN)),
        ])
    }

    /// Whether a record passes the mapping's filters: its `data` as JSON when it is JSON (as
    /// Lambda filters Kinesis records), otherwise as a string.
    public static func passes(_ record: StreamRecord, _ filters: [EventPattern]) -> Bool {
        let data: JSONValue = (try? JSONValue.parse(record.data)) ?? .string(String(decoding: record.data, as: UTF8.self))
        let event = JSONValue.object([
            .init("kinesisSchemaVersion", .string("1.0")),
            .init("partitionKey", .string(record.partitionKey)),
            .init("sequenceNumber", .string(record.sequenceNumber)),
            .init("data", data),
        ])
        return filters.contains { $0.matches(event) }
    }
}
