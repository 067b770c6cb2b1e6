import ChuteAsync
import ChuteCore
import ChuteStore
import Foundation
import Hummingbird
import NIOCore

/// Event buses over EventBridge's JSON 1.1 protocol (`X-Amz-Target: AWSEvents.*`), for the aws
/// CLI and boto3: buses, rules with event patterns, targets (queues, functions, topics, buses and
/// HTTP endpoints by URL), PutEvents and TestEventPattern. Rules are pattern rules: schedules are
/// not supported.
struct EventBridgeAPI: Sendable {
    let registry: MessagingRegistry
    let router: MessageRouter
    let writer: PlanWriter
    let clock: @Sendable () -> Int64
    static let namespace = "com.amazonaws.events"
    /// EventBridge's limits: targets per rule, rules per bus, a target's constant Input.
    static let maximumTargetsPerRule = 5
    static let maximumRulesPerBus = 300
    static let maximumInputLength = 8192

    static let json = JSONProtocol(
        namespace: namespace, contentType: "application/x-amz-json-1.1", internalErrorType: "InternalException", bodyLimit: 1_048_576,
        tooLarge: ServiceError(type: "ValidationException", message: "The request is larger than 1 MB (PutEvents takes at most 1 MB per call)"))

    func handle(_ request: Request, operation: Substring) async -> Response {
        await Self.json.respond(to: request) { fields in
            switch operation {
            case "CreateEventBus": return try await createEventBus(fields)
            case "DeleteEventBus": return try await deleteEventBus(fields)
            case "ListEventBuses": return try listEventBuses(fields)
            case "DescribeEventBus": return try describeEventBus(fields)
            case "PutRule": return try await putRule(fields)
            case "DeleteRule": return try await deleteRule(fields)
            case "DescribeRule": return try describeRule(fields)
            case "ListRules": return try listRules(fields)
            case "PutTargets": return try await putTargets(fields)
            case "RemoveTargets": return try await removeTargets(fields)
            case "ListTargetsByRule": return try listTargets(fields)
            case "PutEvents": return try await putEvents(fields)
            case "TestEventPattern": return try testEventPattern(fields)
            default:
                throw ServiceError(type: "UnknownOperationException", message: "The operation \(operation) is not supported by Chute's EventBridge API.")
            }
        }
    }

    // MARK: Parameters

    private static func string(_ fields: RequestFields, _ name: String) throws(ServiceError) -> String {
        guard let value = try fields.string(name), !value.isEmpty else {
            throw ServiceError.validation(["Value null at '\(RequestFields.lowerFirst(name))' failed to satisfy constraint: Member must not be null"])
        }
        return value
    }

    /// The bus a request names (`EventBusName`, a name or an ARN; `default` when absent).
    private func busName(_ fields: RequestFields, _ key: String = "EventBusName") throws(ServiceError) -> String {
        guard let given = try fields.string(key), !given.isEmpty else { return "default" }
        return MessagingARN.eventBusName(given) ?? given
    }

    /// Names that are only dots (`.`, `..`) read as paths in ARNs and logs: refused, though
    /// EventBridge's patterns would let them through.
    private static func isDots(_ name: String) -> Bool { name.allSatisfy { $0 == "." } }

    private func existingBus(_ name: String) throws(ServiceError) -> EventBus {
        guard let bus = registry.eventBus(named: name) else {
            throw ServiceError(type: "ResourceNotFoundException", message: "Event bus \(name) does not exist.")
        }
        return bus
    }

    private static func ruleNotFound(_ rule: String, _ bus: String) -> ServiceError {
        ServiceError(type: "ResourceNotFoundException", message: "Rule \(rule) does not exist on EventBus \(bus).")
    }

    // MARK: Buses

    private func createEventBus(_ fields: RequestFields) async throws -> [String: Any] {
        let name = try Self.string(fields, "Name")
        guard MessagingARN.isValidName(name, allowing: ["."]), !Self.isDots(name), name != "default" else {
            throw ServiceError(type: "ValidationException",
                               message: "Event bus name \(name.prefix(300)) is not valid: use 1-256 letters, digits and . - _ (not only dots, and not 'default'); "
                                   + "custom event bus names can't contain the / character")
        }
        return ["EventBusArn": try await registry.createEventBus(name).arn]
    }

    private func deleteEventBus(_ fields: RequestFields) async throws -> [String: Any] {
        let name = try Self.string(fields, "Name")
        guard name != "default" else { throw ServiceError(type: "ValidationException", message: "Cannot delete event bus default.") }
        try await registry.deleteEventBus(name)
        return [:]
    }

    private func listEventBuses(_ fields: RequestFields) throws(ServiceError) -> [String: Any] {
        let prefix = try fields.string("NamePrefix") ?? ""
        return ["EventBuses": registry.eventBuses.filter { $0.name.hasPrefix(prefix) }.map { ["Name": $0.name, "Arn": $0.arn] }]
    }

    private func describeEventBus(_ fields: RequestFields) throws(ServiceError) -> [String: Any] {
        let bus = try existingBus(try busName(fields, "Name"))
        return ["Name": bus.name, "Arn": bus.arn]
    }

    // MARK: Rules

    private static func validatePattern(_ text: String) throws(ServiceError) {
        do {
            _ = try EventPattern(text, for: .rule)
        } catch {
            throw ServiceError(type: "InvalidEventPatternException", message: "Event pattern is not valid. Reason: \(error)")
        }
    }

    private func putRule(_ fields: RequestFields) async throws -> [String: Any] {
        let name = try Self.string(fields, "Name")
        guard MessagingARN.isValidName(name, allowing: ["."]), name.count <= 64, !Self.isDots(name) else {
            throw ServiceError(type: "ValidationException", message: "Rule name \(name.prefix(300)) is not valid: use 1-64 letters, digits and . - _ (not only dots)")
        }
        if fields.has("ScheduleExpression") {
            throw ServiceError(type: "ValidationException", message: "ScheduleExpression is not supported by Chute: rules route events by EventPattern")
        }
        let pattern = try Self.string(fields, "EventPattern")
        try Self.validatePattern(pattern)
        let state = try fields.string("State") ?? "ENABLED"
        guard state == "ENABLED" || state == "DISABLED" else {
            throw ServiceError(type: "ValidationException", message: "State \(state.prefix(300)) is not valid: use ENABLED or DISABLED")
        }
        let bus = try busName(fields)
        let arn = MessagingARN.rule(name, bus: bus, region: registry.region, account: registry.account)
        let description = try fields.string("Description")
        if let description, description.count > 512 {
            throw ServiceError.validation(["Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 512"])
        }
        try await registry.updateEventBus(bus) { bus throws(ServiceError) in
            if let index = bus.rules.firstIndex(where: { $0.name == name }) {
                bus.rules[index].eventPattern = pattern
                bus.rules[index].enabled = state == "ENABLED"
                bus.rules[index].description = description
            } else {
                guard bus.rules.count < Self.maximumRulesPerBus else {
                    throw ServiceError(type: "LimitExceededException",
                                       message: "The requested resource exceeds the maximum number allowed: a bus has at most \(Self.maximumRulesPerBus) rules.")
                }
                bus.rules.append(EventRule(name: name, arn: arn, eventPattern: pattern, enabled: state == "ENABLED", description: description))
            }
        }
        return ["RuleArn": arn]
    }

    private func deleteRule(_ fields: RequestFields) async throws -> [String: Any] {
        let name = try Self.string(fields, "Name")
        let force = try fields.bool("Force") ?? false
        try await registry.updateEventBus(try busName(fields)) { bus throws(ServiceError) in
            guard let index = bus.rules.firstIndex(where: { $0.name == name }) else { return }
            guard bus.rules[index].targets.isEmpty || force else {
                throw ServiceError(type: "ValidationException", message: "Rule can't be deleted since it has targets.")
            }
            bus.rules.remove(at: index)
        }
        return [:]
    }

    private func ruleJSON(_ rule: EventRule, bus: EventBus) -> [String: Any] {
        var json: [String: Any] = ["Name": rule.name, "Arn": rule.arn, "EventPattern": rule.eventPattern,
                                   "State": rule.enabled ? "ENABLED" : "DISABLED", "EventBusName": bus.name]
        if let description = rule.description { json["Description"] = description }
        return json
    }

    private func existingRule(_ fields: RequestFields, key: String) throws(ServiceError) -> (EventRule, EventBus) {
        let name = try Self.string(fields, key)
        let bus = try existingBus(try busName(fields))
        guard let rule = bus.rules.first(where: { $0.name == name }) else { throw Self.ruleNotFound(name, bus.name) }
        return (rule, bus)
    }

    private func describeRule(_ fields: RequestFields) throws(ServiceError) -> [String: Any] {
        let (rule, bus) = try existingRule(fields, key: "Name")
        return ruleJSON(rule, bus: bus)
    }

    private func listRules(_ fields: RequestFields) throws(ServiceError) -> [String: Any] {
        let bus = try existingBus(try busName(fields))
        let prefix = try fields.string("NamePrefix") ?? ""
        return ["Rules": bus.rules.filter { $0.name.hasPrefix(prefix) }.map { ruleJSON($0, bus: bus) }]
    }

    // MARK: Targets

    private func putTargets(_ fields: RequestFields) async throws -> [String: Any] {
        let ruleName = try Self.string(fields, "Rule")
        guard let entries = try fields.objects("Targets"), !entries.isEmpty else {
            throw ServiceError(type: "ValidationException", message: "1 validation error detected: Value null at 'targets' failed to satisfy constraint: Member must not be null")
        }
        var targets: [RuleTarget] = []
        var failed: [[String: Any]] = []
        for entry in entries {
            let id = try entry.string("Id") ?? ""
            let arn = try entry.string("Arn") ?? ""
            let input = try entry.string("Input")
            var problem: String?
            if !(1...64).contains(id.utf8.count) || !id.utf8.allSatisfy({ byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || "._-".utf8.contains(byte)
            }) {
                problem = "Target Id must be 1-64 letters, digits and . - _"
            } else if case .failure(let error) = Destination.parse(arn) {
                problem = error.message
            } else if let input, input.count > Self.maximumInputLength {
                problem = "Input is \(input.count) characters; at most \(Self.maximumInputLength) are allowed."
            } else if let input, !JSONText.isValid(Array(input.utf8)) {
                problem = "Input is not valid JSON."
            }
            if let problem {
                failed.append(["TargetId": id, "ErrorCode": "ValidationException", "ErrorMessage": problem])
            } else {
                targets.append(RuleTarget(id: id, arn: arn, input: input))
            }
        }
        let bus = try busName(fields)
        let accepted = targets
        try await registry.updateEventBus(bus) { bus throws(ServiceError) in
            guard let index = bus.rules.firstIndex(where: { $0.name == ruleName }) else { throw Self.ruleNotFound(ruleName, bus.name) }
            var rule = bus.rules[index]
            for target in accepted {
                if let existing = rule.targets.firstIndex(where: { $0.id == target.id }) {
                    rule.targets[existing] = target
                } else {
                    rule.targets.append(target)
                }
            }
            guard rule.targets.count <= Self.maximumTargetsPerRule else {
                throw ServiceError(type: "LimitExceededException",
                                   message: "The requested resource exceeds the maximum number allowed: a rule has at most \(Self.maximumTargetsPerRule) targets.")
            }
            bus.rules[index] = rule
        }
        return ["FailedEntryCount": failed.count, "FailedEntries": failed]
    }

    private func removeTargets(_ fields: RequestFields) async throws -> [String: Any] {
        let ruleName = try Self.string(fields, "Rule")
        let ids = Set(try fields.strings("Ids") ?? [])
        try await registry.updateEventBus(try busName(fields)) { bus throws(ServiceError) in
            guard let index = bus.rules.firstIndex(where: { $0.name == ruleName }) else { throw Self.ruleNotFound(ruleName, bus.name) }
            bus.rules[index].targets.removeAll { ids.contains($0.id) }
        }
        return ["FailedEntryCount": 0, "FailedEntries": [Any]()]
    }

    private func listTargets(_ fields: RequestFields) throws(ServiceError) -> [String: Any] {
        let (rule, _) = try existingRule(fields, key: "Rule")
        return ["Targets": rule.targets.map { target -> [String: Any] in
            var json: [String: Any] = ["Id": target.id, "Arn": target.arn]
            if let input = target.input { json["Input"] = input }
            return json
        }]
    }

    // MARK: Events

    private func putEvents(_ fields: RequestFields) async throws -> [String: Any] {
        guard let entries = try fields.objects("Entries"), !entries.isEmpty else {
            throw ServiceError(type: "ValidationException", message: "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null")
        }
        guard entries.count <= 10 else {
            throw ServiceError(type: "ValidationException",
                               message: "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10")
        }
        let now = clock()
        var plan = DeliveryPlan()
        var results: [[String: Any]] = []
        var failures = 0
        for entry in entries {
            switch Result(catching: { () throws(ServiceError) in try event(from: entry, now: now) }) {
            case .success(let (event, bus)):
                router.put(event, on: bus, origin: .init(requestID: event.id, record: event.json), now: now, into: &plan)
                results.append(["EventId": event.id])
            case .failure(let error):
                failures += 1
                results.append(["ErrorCode": error.type, "ErrorMessage": error.message])
            }
        }
        try await writer.write(plan, now: now)
        return ["FailedEntryCount": failures, "Entries": results]
    }

    private func event(from entry: RequestFields, now: Int64) throws(ServiceError) -> (BusEvent, RoutableBus) {
        func invalid(_ parameter: String, _ reason: String) -> ServiceError {
            ServiceError(type: "InvalidArgument", message: "Parameter \(parameter) is not valid. Reason: \(reason)")
        }
        guard let source = try entry.string("Source"), !source.isEmpty else { throw invalid("Source", "Source is a required argument.") }
        guard let detailType = try entry.string("DetailType"), !detailType.isEmpty else {
            throw invalid("DetailType", "DetailType is a required argument.")
        }
        guard let detail = try entry.string("Detail"), let parsed = try? JSONValue.parse(detail), case .object = parsed else {
            throw ServiceError(type: "MalformedDetail", message: "Detail is malformed.")
        }
        let name = try busName(entry)
        guard let bus = registry.eventBus(named: name).flatMap({ registry.eventBus(arn: $0.arn) }) else {
            throw ServiceError(type: "ResourceNotFoundException", message: "Event bus \(name) does not exist.")
        }
        // A time no calendar holds (1e300, 10¹⁶ seconds) is refused, never multiplied into a trap.
        var time = now
        if entry.has("Time") {
            guard let seconds = try? entry.number("Time"), let milliseconds = Timestamps.milliseconds(fromSeconds: seconds) else {
                throw invalid("Time", "Time must be seconds since 1970, between the years 1 and 9999.")
            }
            time = milliseconds
        }
        let event = BusEvent(id: RequestID.make(), source: source, detailType: detailType, account: registry.account, region: registry.region,
                             timeMilliseconds: time, resources: try entry.strings("Resources") ?? [], detail: detail)
        return (event, bus)
    }

    private func testEventPattern(_ fields: RequestFields) throws(ServiceError) -> [String: Any] {
        let patternText = try Self.string(fields, "EventPattern")
        let eventText = try Self.string(fields, "Event")
        let pattern: EventPattern
        do {
            pattern = try EventPattern(patternText, for: .rule)
        } catch {
            throw ServiceError(type: "InvalidEventPatternException", message: "Event pattern is not valid. Reason: \(error)")
        }
        guard eventText.utf8.count <= BusEvent.maximumBytes else {
            throw ServiceError.validation(["Value at 'event' failed to satisfy constraint: Member must have length less than or equal to \(BusEvent.maximumBytes)"])
        }
        guard let event = try? JSONValue.parse(eventText), case .object = event else {
            throw ServiceError(type: "InvalidEventPatternException", message: "Event is not valid: it must be a JSON object")
        }
        return ["Result": pattern.matches(event)]
    }
}
