/// A topic (SNS-like): a name, and the subscriptions a published message fans out to.
public struct Topic: Sendable, Hashable, Codable {
    public var name: String
    public var arn: String
    public var subscriptions: [TopicSubscription]

    public init(name: String, arn: String, subscriptions: [TopicSubscription] = []) {
        self.name = name
        self.arn = arn
        self.subscriptions = subscriptions
    }
}

/// One subscriber of a topic: a built-in queue, a function (invoked asynchronously) or an HTTP
/// endpoint, with how it wants messages (raw or in SNS's envelope) and which ones (filter policy).
public struct TopicSubscription: Sendable, Hashable, Codable {
    /// `TOPIC_ARN:UUID`, as SNS names subscriptions.
    public var arn: String
    public var topicARN: String
    public var kind: SubscriptionProtocol
    /// A queue ARN, a function ARN, or a URL.
    public var endpoint: String
    /// The message as published, without SNS's JSON envelope (queues and HTTP endpoints only).
    public var rawMessageDelivery: Bool
    /// The filter policy's JSON (an event pattern); nil delivers every message.
    public var filterPolicy: String?
    public var filterPolicyScope: FilterPolicyScope

    public init(arn: String, topicARN: String, kind: SubscriptionProtocol, endpoint: String, rawMessageDelivery: Bool = false,
                filterPolicy: String? = nil, filterPolicyScope: FilterPolicyScope = .messageAttributes) {
        self.arn = arn
        self.topicARN = topicARN
        self.kind = kind
        self.endpoint = endpoint
        self.rawMessageDelivery = rawMessageDelivery
        self.filterPolicy = filterPolicy
        self.filterPolicyScope = filterPolicyScope
    }
}

/// SNS's `Protocol` values that Chute delivers to.
public enum SubscriptionProtocol: String, Sendable, Hashable, Codable, CaseIterable {
    case sqs, lambda, http, https
}

/// What a subscription's filter policy is matched against (SNS's `FilterPolicyScope`).
public enum FilterPolicyScope: String, Sendable, Hashable, Codable {
    /// The message attributes, as an object of name to value (the default).
    case messageAttributes = "MessageAttributes"
    /// The message body, which must then be a JSON object.
    case messageBody = "MessageBody"
}
