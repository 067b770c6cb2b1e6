/// The JSON SNS wraps messages in: for queues and HTTP endpoints without raw delivery, and the
/// `Records` event a subscribed function receives. Chute does not sign messages: `Signature` holds
/// a fixed placeholder so that the shape is SNS's, and nothing should verify it.
public enum SNSEnvelope {
    public static let signaturePlaceholder = "Q2h1dGUgZG9lcyBub3Qgc2lnbiBtZXNzYWdlcw=="

    /// `{"Type":"Notification","MessageId":…,"TopicArn":…,"Subject":…,"Message":…,"Timestamp":…,
    /// "SignatureVersion":"1","Signature":…,"SigningCertURL":…,"UnsubscribeURL":…,"MessageAttributes":…}`
    /// in SNS's order; `Subject` and `MessageAttributes` only when the message has them.
    public static func notification(_ message: PublishedMessage, subscriptionARN: String, region: String) -> String {
        var members: [(String, String)] = [
            ("Type", JSONText.quote("Notification")),
            ("MessageId", JSONText.quote(message.messageID)),
            ("TopicArn", JSONText.quote(message.topicARN)),
        ]
        if let subject = message.subject { members.append(("Subject", JSONText.quote(subject))) }
        members += [
            ("Message", JSONText.quote(message.message)),
            ("Timestamp", JSONText.quote(Timestamps.iso8601(milliseconds: message.timestampMilliseconds))),
            ("SignatureVersion", JSONText.quote("1")),
            ("Signature", JSONText.quote(signaturePlaceholder)),
            ("SigningCertURL", JSONText.quote(certificateURL(region))),
            ("UnsubscribeURL", JSONText.quote(unsubscribeURL(region, subscriptionARN))),
        ]
        if !message.attributes.isEmpty { members.append(("MessageAttributes", attributesJSON(message.attributes))) }
        return JSONText.object(members)
    }

    /// The event a function subscribed to the topic is invoked with (one record per message).
    public static func functionEvent(_ message: PublishedMessage, subscriptionARN: String, region: String) -> String {
        let sns = JSONText.object([
            ("Type", JSONText.quote("Notification")),
            ("MessageId", JSONText.quote(message.messageID)),
            ("TopicArn", JSONText.quote(message.topicARN)),
            ("Subject", message.subject.map(JSONText.quote) ?? "null"),
            ("Message", JSONText.quote(message.message)),
            ("Timestamp", JSONText.quote(Timestamps.iso8601(milliseconds: message.timestampMilliseconds))),
            ("SignatureVersion", JSONText.quote("1")),
            ("Signature", JSONText.quote(signaturePlaceholder)),
            ("SigningCertUrl", JSONText.quote(certificateURL(region))),
            ("UnsubscribeUrl", JSONText.quote(unsubscribeURL(region, subscriptionARN))),
            ("MessageAttributes", attributesJSON(message.attributes)),
        ])
        let record = JSONText.object([
            ("EventSource", JSONText.quote("aws:sns")),
            ("EventVersion", JSONText.quote("1.0")),
            ("EventSubscriptionArn", JSONText.quote(subscriptionARN)),
            ("Sns", sns),
        ])
        return JSONText.object([("Records", "[" + record + "]")])
    }

    /// `{"NAME":{"Type":"String","Value":"…"},…}`
    static func attributesJSON(_ attributes: [MessageAttribute]) -> String {
        JSONText.object(attributes.map {
            ($0.name, JSONText.object([("Type", JSONText.quote($0.dataType)), ("Value", JSONText.quote($0.value))]))
        })
    }

    private static func certificateURL(_ region: String) -> String {
        "https://sns.\(region).amazonaws.com/SimpleNotificationService-chute-unsigned.pem"
    }

    private static func unsubscribeURL(_ region: String, _ subscriptionARN: String) -> String {
        "https://sns.\(region).amazonaws.com/?Action=Unsubscribe&SubscriptionArn=\(subscriptionARN)"
    }
}
