/// The event Lambda hands a function for a batch of stream records:
///
///     {"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"…","sequenceNumber":"…",
///        "data":"BASE64","approximateArrivalTimestamp":1545084650.987},
///      "eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-…:SEQ","eventName":"aws:kinesis:record",
///      "invokeIdentityArn":"…","awsRegion":"…","eventSourceARN":"…"}]}
public enum KinesisEvent {
    public static func json(_ records: [StreamRecord], streamARN: String, region: String, roleARN: String) -> String {
        String(decoding: bytes(records, streamARN: streamARN, region: region, roleARN: roleARN), as: UTF8.self)
    }

    /// The event as UTF-8, written straight into one buffer: a batch of 100 records is built once
    /// per invocation, so this is on the mapping's hot path. Only the partition key needs escaping;
    /// sequence numbers, base64 and the batch's constant tail do not.
    public static func bytes(_ records: [StreamRecord], streamARN: String, region: String, roleARN: String) -> [UInt8] {
        var tail: [UInt8] = Array(#","eventName":"aws:kinesis:record","invokeIdentityArn":"#.utf8)
        JSONText.appendQuoted(roleARN, to: &tail)
        tail += #","awsRegion":"#.utf8
        JSONText.appendQuoted(region, to: &tail)
        tail += #","eventSourceARN":"#.utf8
        JSONText.appendQuoted(streamARN, to: &tail)
        tail.append(UInt8(ascii: "}"))
        var out: [UInt8] = []
        out.reserveCapacity(records.reduce(16) { $0 + $1.data.count * 4 / 3 + $1.partitionKey.utf8.count + 240 + tail.count })
        out += #"{"Records":["#.utf8
        for (index, record) in records.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += #"{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"#.utf8
            JSONText.appendQuoted(record.partitionKey, to: &out)
            let sequence = record.sequenceNumber.utf8
            out += #","sequenceNumber":""#.utf8
            out += sequence
            out += #"","data":""#.utf8
            Base64.append(record.data, to: &out)
            out += #"","approximateArrivalTimestamp":"#.utf8
            out += String(Double(record.arrivalMilliseconds) / 1000).utf8
            out += #"},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":""#.utf8
            out += record.shardID.utf8
            out.append(UInt8(ascii: ":"))
            out += sequence
            out.append(UInt8(ascii: "\""))
            out += tail
        }
        out += "]}".utf8
        return out
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
