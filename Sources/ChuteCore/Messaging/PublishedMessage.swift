/// A message published to a topic, as every subscriber's copy is built from it.
public struct PublishedMessage: Sendable, Hashable {
    /// SNS's limit on one message (256 KB): a record larger than this is not published.
    public static let maximumBytes = 262_144

    public var messageID: String
    public var topicARN: String
    public var subject: String?
    public var message: String
    public var attributes: [MessageAttribute]
    public var timestampMilliseconds: Int64

    public init(messageID: String, topicARN: String, subject: String? = nil, message: String, attributes: [MessageAttribute] = [],
                timestampMilliseconds: Int64) {
        self.messageID = messageID
        self.topicARN = topicARN
        self.subject = subject
        self.message = message
        self.attributes = attributes
        self.timestampMilliseconds = timestampMilliseconds
    }

    /// The attributes as a subscription's filter policy sees them: an object of name to value,
    /// `Number` attributes as numbers, `String.Array` attributes as arrays; binary ones are left out
    /// (SNS does not filter on them).
    public var filterableAttributes: JSONValue {
        var members: [JSONValue.Member] = []
        for attribute in attributes {
            let type = attribute.dataType
            if type.hasPrefix("Binary") { continue }
            if type.hasPrefix("Number"), Double(attribute.value) != nil {
                members.append(.init(attribute.name, .number(attribute.value)))
            } else if type == "String.Array", let array = try? JSONValue.parse(attribute.value), case .array = array {
                members.append(.init(attribute.name, array))
            } else {
                members.append(.init(attribute.name, .string(attribute.value)))
            }
        }
        return .object(members)
    }
}
