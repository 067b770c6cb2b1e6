import ChuteCore
import Foundation
import Yams

/// Topics, event buses and HTTP delivery as the configuration file declares them.
extension ConfigurationFile {
    public struct TopicDeclaration: Sendable, Hashable {
        public var name: String
        public var subscriptions: [SubscriptionDeclaration]
    }

    public struct SubscriptionDeclaration: Sendable, Hashable {
        public var kind: SubscriptionProtocol
        /// A queue or function ARN, or a URL.
        public var endpoint: String
        public var rawMessageDelivery: Bool
        /// The filter policy's JSON.
        public var filterPolicy: String?
        public var filterPolicyScope: FilterPolicyScope
    }

    public struct EventBusDeclaration: Sendable, Hashable {
        public var name: String
        public var rules: [RuleDeclaration]
    }

    public struct RuleDeclaration: Sendable, Hashable {
        public var name: String
        /// The event pattern's JSON.
        public var eventPattern: String
        public var enabled: Bool
        public var description: String?
        public var targets: [RuleTarget]
    }

    static func parseTopics(_ node: Node, problems: inout [String]) -> [TopicDeclaration] {
        guard let list = node.sequence else {
            problems.append("\(at(node)): topics must be a list")
            return []
        }
        var topics: [TopicDeclaration] = []
        for (index, item) in list.enumerated() {
            let path = "topics[\(index)]"
            guard let fields = fields(item, path, allowed: ["name", "subscriptions"], problems: &problems) else { continue }
            guard let name = scalar(fields["name"], "\(path).name", in: item, problems: &problems) else { continue }
            guard MessagingARN.isValidName(name) else {
                problems.append("\(at(item)): \(path).name: '\(name)' must be 1-256 letters, digits, '-' and '_'")
                continue
            }
            var subscriptions: [SubscriptionDeclaration] = []
            for (number, entry) in (fields["subscriptions"]?.sequence ?? []).enumerated() {
                if let subscription = parseSubscription(entry, "\(path).subscriptions[\(number)]", problems: &problems) {
                    subscriptions.append(subscription)
                }
            }
            if let given = fields["subscriptions"], given.sequence == nil {
                problems.append("\(at(given)): \(path).subscriptions: must be a list")
            }
            topics.append(TopicDeclaration(name: name, subscriptions: subscriptions))
        }
        return topics
    }

    private static func parseSubscription(_ node: Node, _ path: String, problems: inout [String]) -> SubscriptionDeclaration? {
        let allowed: Set<String> = ["protocol", "endpoint", "rawMessageDelivery", "filterPolicy", "filterPolicyScope"]
        guard let fields = fields(node, path, allowed: allowed, problems: &problems) else { return nil }
        let before = problems.count
        let kindText = scalar(fields["protocol"], "\(path).protocol", in: node, problems: &problems) ?? ""
        let kind = SubscriptionProtocol(rawValue: kindText)
        if kind == nil, !kindText.isEmpty {
            problems.append("\(at(node)): \(path).protocol: '\(kindText)' is not one of sqs, lambda, http, https")
        }
        var endpoint = scalar(fields["endpoint"], "\(path).endpoint", in: node, problems: &problems) ?? ""
        if !endpoint.hasPrefix("arn:"), !endpoint.contains("://") {
            // A bare name: a queue, or a function for lambda subscriptions.
            endpoint = kind == .lambda ? FunctionConfiguration(name: endpoint, library: "").arn : destinationARN(endpoint)
        }
        var raw = false
        if let value = fields["rawMessageDelivery"] {
            if let flag = value.bool { raw = flag } else { problems.append("\(at(value)): \(path).rawMessageDelivery: must be true or false") }
        }
        let policy = fields["filterPolicy"].flatMap { pattern($0, "\(path).filterPolicy", for: .filterPolicy, problems: &problems) }
        var scope = FilterPolicyScope.messageAttributes
        if let text = scalar(fields["filterPolicyScope"], "\(path).filterPolicyScope", in: node, required: false, problems: &problems) {
            if let value = FilterPolicyScope(rawValue: text) { scope = value } else {
                problems.append("\(at(node)): \(path).filterPolicyScope: must be MessageAttributes or MessageBody")
            }
        }
        if let kind, !endpoint.isEmpty {
            let matches = switch (kind, Destination.parse(endpoint)) {
            case (.sqs, .success(.queue)), (.lambda, .success(.function)): true
            case (.http, .success(.http)), (.https, .success(.http)): endpoint.hasPrefix(kind.rawValue + "://")
            default: false
            }
            if !matches { problems.append("\(at(node)): \(path).endpoint: '\(endpoint)' does not fit protocol \(kind.rawValue)") }
            if raw, kind == .lambda { problems.append("\(at(node)): \(path).rawMessageDelivery: functions always get SNS's event") }
        }
        guard problems.count == before, let kind else { return nil }
        return SubscriptionDeclaration(kind: kind, endpoint: endpoint, rawMessageDelivery: raw, filterPolicy: policy, filterPolicyScope: scope)
    }

    static func parseEventBuses(_ node: Node, problems: inout [String]) -> [EventBusDeclaration] {
        guard let list = node.sequence else {
            problems.append("\(at(node)): eventBuses must be a list")
            return []
        }
        var buses: [EventBusDeclaration] = []
        for (index, item) in list.enumerated() {
            let path = "eventBuses[\(index)]"
            guard let fields = fields(item, path, allowed: ["name", "rules"], problems: &problems),
                  let name = scalar(fields["name"], "\(path).name", in: item, problems: &problems) else { continue }
            guard MessagingARN.isValidName(name, allowing: [".", "/"]) else {
                problems.append("\(at(item)): \(path).name: '\(name)' must be 1-256 letters, digits and . - _ /")
                continue
            }
            var rules: [RuleDeclaration] = []
            for (number, entry) in (fields["rules"]?.sequence ?? []).enumerated() {
                if let rule = parseRule(entry, "\(path).rules[\(number)]", problems: &problems) { rules.append(rule) }
            }
            buses.append(EventBusDeclaration(name: name, rules: rules))
        }
        return buses
    }

    private static func parseRule(_ node: Node, _ path: String, problems: inout [String]) -> RuleDeclaration? {
        guard let fields = fields(node, path, allowed: ["name", "eventPattern", "enabled", "description", "targets"], problems: &problems)
        else { return nil }
        let before = problems.count
        let name = scalar(fields["name"], "\(path).name", in: node, problems: &problems) ?? ""
        var eventPattern: String?
        if let value = fields["eventPattern"] { eventPattern = pattern(value, "\(path).eventPattern", problems: &problems) } else {
            problems.append("\(at(node)): \(path).eventPattern: missing")
        }
        var enabled = true
        if let value = fields["enabled"] {
            if let flag = value.bool { enabled = flag } else { problems.append("\(at(value)): \(path).enabled: must be true or false") }
        }
        let description = scalar(fields["description"], "\(path).description", in: node, required: false, problems: &problems)
        var targets: [RuleTarget] = []
        for (number, entry) in (fields["targets"]?.sequence ?? []).enumerated() {
            // A target is its ARN, URL or queue name, or a mapping {id, arn, input}.
            var id = String(number + 1)
            var arnText: String?
            var input: String?
            if entry.scalar != nil {
                arnText = entry.string
            } else if let target = entry.mapping {
                id = target["id"]?.string ?? id
                arnText = target["arn"]?.string
                input = target["input"].flatMap { json($0) }
            }
            guard let arnText, !arnText.isEmpty else {
                problems.append("\(at(entry)): \(path).targets[\(number)]: must be an ARN, a URL or a queue name, or {id, arn, input}")
                continue
            }
            let arn = destinationARN(arnText)
            if case .failure(let error) = Destination.parse(arn) {
                problems.append("\(at(entry)): \(path).targets[\(number)]: \(error.message)")
                continue
            }
            targets.append(RuleTarget(id: id, arn: arn, input: input))
        }
        guard problems.count == before, let eventPattern else { return nil }
        return RuleDeclaration(name: name, eventPattern: eventPattern, enabled: enabled, description: description, targets: targets)
    }

    static func parseHTTPDelivery(_ node: Node, problems: inout [String]) -> HTTPDeliveryPolicy {
        var policy = HTTPDeliveryPolicy()
        let allowed: Set<String> = ["maximumAttempts", "initialDelaySeconds", "maximumDelaySeconds", "timeoutSeconds", "perEndpointConcurrency"]
        guard let fields = fields(node, "httpDelivery", allowed: allowed, problems: &problems) else { return policy }
        func milliseconds(_ field: String, _ range: ClosedRange<Double>) -> Int64? {
            guard let value = fields[field] else { return nil }
            guard let seconds = value.float ?? value.int.map(Double.init), range.contains(seconds) else {
                problems.append("\(at(value)): httpDelivery.\(field): must be a number of seconds from \(range.lowerBound) to \(range.upperBound)")
                return nil
            }
            return Int64(seconds * 1000)
        }
        if let value = fields["maximumAttempts"] {
            if let number = value.int, (1...100).contains(number) { policy.maximumAttempts = number } else {
                problems.append("\(at(value)): httpDelivery.maximumAttempts: must be a whole number from 1 to 100")
            }
        }
        if let value = fields["perEndpointConcurrency"] {
            if let number = value.int, (1...64).contains(number) { policy.perEndpointConcurrency = number } else {
                problems.append("\(at(value)): httpDelivery.perEndpointConcurrency: must be a whole number from 1 to 64")
            }
        }
        if let value = milliseconds("initialDelaySeconds", 0.001...3600) { policy.initialDelayMilliseconds = value }
        if let value = milliseconds("maximumDelaySeconds", 0.001...86400) { policy.maximumDelayMilliseconds = value }
        if let value = milliseconds("timeoutSeconds", 0.1...900) { policy.timeoutMilliseconds = value }
        return policy
    }

    // MARK: Helpers

    static func fields(_ node: Node, _ path: String, allowed: Set<String>, problems: inout [String]) -> Node.Mapping? {
        guard let mapping = node.mapping else {
            problems.append("\(at(node)): \(path): must be a mapping")
            return nil
        }
        for (key, _) in mapping where !allowed.contains(key.string ?? "") {
            problems.append("\(at(key)): \(path).\(key.string ?? "?"): unknown field; expected one of \(allowed.sorted().joined(separator: ", "))")
        }
        return mapping
    }

    static func scalar(_ value: Node?, _ path: String, in parent: Node, required: Bool = true, problems: inout [String]) -> String? {
        guard let value else {
            if required { problems.append("\(at(parent)): \(path): missing") }
            return nil
        }
        guard value.scalar != nil, let text = value.string else {
            problems.append("\(at(value)): \(path): must be a string")
            return nil
        }
        return text
    }

    /// An event pattern or filter policy: JSON text, or the pattern written as YAML; checked here.
    static func pattern(_ node: Node, _ path: String, for use: EventPattern.Use = .rule, problems: inout [String]) -> String? {
        guard let text = node.scalar != nil ? node.string : json(node) else {
            problems.append("\(at(node)): \(path): must be an event pattern (a mapping, or its JSON)")
            return nil
        }
        do {
            _ = try EventPattern(text, for: use)
        } catch {
            problems.append("\(at(node)): \(path): \(error)")
            return nil
        }
        return text
    }

    /// A YAML value as JSON text.
    private static func json(_ node: Node) -> String? {
        if node.scalar != nil, let text = node.string { return text }
        guard let value = try? Yams.load(yaml: Yams.serialize(node: node)),
              JSONSerialization.isValidJSONObject(value),
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
