import ChuteCore

/// Finds topics and event buses by ARN, with their filter policies and event patterns compiled;
/// the host's registry implements it (they can be created and changed while it runs).
public protocol MessagingDirectory: Sendable {
    func topic(arn: String) -> RoutableTopic?
    func eventBus(arn: String) -> RoutableBus?
}

/// A topic ready to fan out: each subscription with its compiled filter policy.
public struct RoutableTopic: Sendable {
    public let topic: Topic
    let filters: [Filter]

    /// Compiles the filter policies. A policy is validated when it is set, so one that no longer
    /// compiles cannot occur; should it, its subscription receives nothing rather than everything.
    public init(_ topic: Topic) {
        self.topic = topic
        filters = topic.subscriptions.map { subscription in
            guard let policy = subscription.filterPolicy else { return .everything }
            return (try? EventPattern(policy)).map(Filter.pattern) ?? .nothing
        }
    }
}

/// An event bus ready to route: each enabled rule with its compiled pattern.
public struct RoutableBus: Sendable {
    public let bus: EventBus
    let rules: [(rule: EventRule, filter: Filter)]

    public init(_ bus: EventBus) {
        self.bus = bus
        rules = bus.rules.filter(\.enabled).map { rule in (rule, (try? EventPattern(rule.eventPattern)).map(Filter.pattern) ?? .nothing) }
    }
}

/// Which messages or events pass.
enum Filter: Sendable {
    case everything
    case pattern(EventPattern)
    case nothing

    func matches(_ value: JSONValue) -> Bool {
        switch self {
        case .everything: true
        case .pattern(let pattern): pattern.matches(value)
        case .nothing: false
        }
    }
}
