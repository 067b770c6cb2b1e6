/// The event Lambda hands a function for a batch of queue messages:
///
///     {"Records":[{"messageId":"…","receiptHandle":"…","body":"…",
///       "attributes":{"ApproximateReceiveCount":"1","SentTimestamp":"…","SenderId":"…","ApproximateFirstReceiveTimestamp":"…"},
///       "messageAttributes":{"Author":{"stringValue":"…","stringListValues":[],"binaryListValues":[],"dataType":"String"}},
///       "md5OfMessageAttributes":null,"md5OfBody":"…","eventSource":"aws:sqs","eventSourceARN":"…","awsRegion":"…"}]}
public enum SQSEvent {
    public struct Message: Sendable, Hashable {
        public var messageID: String
        public var receiptHandle: String
        public var body: [UInt8]
        public var attributes: [MessageAttribute]
        public var receiveCount: Int
        public var sentAtMilliseconds: Int64
        public var firstReceivedAtMilliseconds: Int64
        public var md5OfBody: String
        /// nil when the message has no attributes.
        public var md5OfMessageAttributes: String?

        public init(messageID: String, receiptHandle: String, body: [UInt8], attributes: [MessageAttribute], receiveCount: Int,
                    sentAtMilliseconds: Int64, firstReceivedAtMilliseconds: Int64, md5OfBody: String, md5OfMessageAttributes: String?) {
            self.messageID = messageID
            self.receiptHandle = receiptHandle
            self.body = body
            self.attributes = attributes
            self.receiveCount = receiveCount
            self.sentAtMilliseconds = sentAtMilliseconds
            self.firstReceivedAtMilliseconds = firstReceivedAtMilliseconds
            self.md5OfBody = md5OfBody
            self.md5OfMessageAttributes = md5OfMessageAttributes
        }
    }

    public static func json(_ messages: [Message], queueARN: String, region: String, senderID: String) -> String {
        var out = #"{"Records":["#
        for (index, message) in messages.enumerated() {
            if index > 0 { out += "," }
            out += recordJSON(message, queueARN: queueARN, region: region, senderID: senderID)
        }
        return out + "]}"
    }

    static func recordJSON(_ message: Message, queueARN: String, region: String, senderID: String) -> String {
        let attributes = message.attributes.map { attribute -> (String, String) in
            let binary = attribute.dataType.hasPrefix("Binary")
            return (attribute.name, JSONText.object([
                (binary ? "binaryValue" : "stringValue", JSONText.quote(attribute.value)),
                ("stringListValues", "[]"),
                ("binaryListValues", "[]"),
                ("dataType", JSONText.quote(attribute.dataType)),
            ]))
        }
        return JSONText.object([
            ("messageId", JSONText.quote(message.messageID)),
            ("receiptHandle", JSONText.quote(message.receiptHandle)),
            ("body", JSONText.quote(String(decoding: message.body, as: UTF8.self))),
            ("attributes", JSONText.object([
                ("ApproximateReceiveCount", JSONText.quote(String(message.receiveCount))),
                ("SentTimestamp", JSONText.quote(String(message.sentAtMilliseconds))),
                ("SenderId", JSONText.quote(senderID)),
                ("ApproximateFirstReceiveTimestamp", JSONText.quote(String(message.firstReceivedAtMilliseconds))),
            ])),
            ("messageAttributes", JSONText.object(attributes)),
            ("md5OfMessageAttributes", message.md5OfMessageAttributes.map(JSONText.quote) ?? "null"),
            ("md5OfBody", JSONText.quote(message.md5OfBody)),
            ("eventSource", JSONText.quote("aws:sqs")),
            ("eventSourceARN", JSONText.quote(queueARN)),
            ("awsRegion", JSONText.quote(region)),
        ])
    }

    /// Whether a message passes a mapping's filters, which look at `body` (as JSON when it is JSON).
    public static func passes(_ body: [UInt8], _ filters: [EventPattern]) -> Bool {
        guard !filters.isEmpty else { return true }
        let value: JSONValue = (try? JSONValue.parse(body)) ?? .string(String(decoding: body, as: UTF8.self))
        let event = JSONValue.object([.init("body", value)])
        return filters.contains { $0.matches(event) }
    }
}
