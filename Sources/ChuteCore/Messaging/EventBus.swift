/// An event bus (EventBridge-like): rules whose event patterns route events to targets.
public struct EventBus: Sendable, Hashable, Codable {
    public var name: String
    public var arn: String
    public var rules: [EventRule]

    public init(name: String, arn: String, rules: [EventRule] = []) {
        self.name = name
        self.arn = arn
        self.rules = rules
    }
}

public struct EventRule: Sendable, Hashable, Codable {
    public var name: String
    public var arn: String
    /// The event pattern's JSON; every rule Chute routes with has one (scheduled rules are not supported).
    public var eventPattern: String
    public var enabled: Bool
    public var description: String?
    public var targets: [RuleTarget]

    public init(name: String, arn: String, eventPattern: String, enabled: Bool = true, description: String? = nil,
                targets: [RuleTarget] = []) {
        self.name = name
        self.arn = arn
        self.eventPattern = eventPattern
        self.enabled = enabled
        self.description = description
        self.targets = targets
    }
}

/// Where a rule sends matching events: a queue, function, topic or event bus by ARN, or an HTTP
/// endpoint by URL (Chute's stand-in for EventBridge's API destinations).
public struct RuleTarget: Sendable, Hashable, Codable {
    public var id: String
    public var arn: String
    /// Sent instead of the event when set (EventBridge's `Input`, constant JSON).
    public var input: String?

    public init(id: String, arn: String, input: String? = nil) {
        self.id = id
        self.arn = arn
        self.input = input
    }
}
