import ChuteAsync
import ChuteHost
import ChuteCore
import ChuteStore
import Synchronization

/// The host's topics and event buses: held in memory with their filter policies and patterns
/// compiled (the router reads them for every record), and saved to the store on every change so
/// that they come back after a restart. The `default` event bus always exists.
public final class MessagingRegistry: MessagingDirectory, Sendable {
    let store: any MessagingDefinitionStore
    public let region: String
    public let account: String

    private struct State {
        var topics: [String: Topic] = [:]
        var routableTopics: [String: RoutableTopic] = [:]
        var buses: [String: EventBus] = [:]
        var routableBuses: [String: RoutableBus] = [:]
    }

    private let state = Mutex(State())
    private let changes = SerialChanges()

    public init(store: any MessagingDefinitionStore, region: String = FunctionConfiguration.defaultRegion,
                account: String = FunctionConfiguration.defaultAccountID) {
        self.store = store
        self.region = region
        self.account = account
    }

    /// Loads what the store kept, and makes sure the default bus exists.
    public func restore() async throws {
        let topics = try await store.storedTopics()
        let buses = try await store.storedEventBuses()
        state.withLock { state in
            for topic in topics { Self.put(topic, in: &state) }
            for bus in buses { Self.put(bus, in: &state) }
        }
        if eventBus(named: "default") == nil { try await createEventBus("default") }
    }

    /// Takes up what other hosts sharing the store changed: topics and buses they created,
    /// changed or deleted. Runs between this host's own changes, never during one.
    public func refresh() async throws {
        try await changes.run {
            let topics = try await self.store.storedTopics()
            let buses = try await self.store.storedEventBuses()
            self.state.withLock { state in
                guard topics != state.topics.values.sorted(by: { $0.arn < $1.arn })
                        || buses != state.buses.values.sorted(by: { $0.arn < $1.arn }) else { return }
                state = State()
                for topic in topics { Self.put(topic, in: &state) }
                for bus in buses { Self.put(bus, in: &state) }
            }
        }
    }

    // MARK: MessagingDirectory

    public func topic(arn: String) -> RoutableTopic? { state.withLock { $0.routableTopics[arn] } }
    public func eventBus(arn: String) -> RoutableBus? { state.withLock { $0.routableBuses[arn] } }

    // MARK: Topics

    public func topicARN(_ name: String) -> String { MessagingARN.topic(name, region: region, account: account) }

    public var topics: [Topic] { state.withLock { $0.topics.values.sorted { $0.arn < $1.arn } } }

    public func topic(named arn: String) -> Topic? { state.withLock { $0.topics[arn] } }

    /// Creates the topic unless it exists (SNS's CreateTopic is idempotent); returns it.
    @discardableResult
    public func createTopic(_ name: String) async throws -> Topic {
        let arn = topicARN(name)
        return try await changes.run {
            if let existing = self.topic(named: arn) { return existing }
            let topic = Topic(name: name, arn: arn)
            try await self.store.saveTopic(topic)
            self.state.withLock { Self.put(topic, in: &$0) }
            return topic
        }
    }

    public func deleteTopic(arn: String) async throws {
        try await changes.run {
            try await self.store.deleteTopic(arn: arn)
            _ = self.state.withLock { state in
                state.topics[arn] = nil
                state.routableTopics[arn] = nil
            }
        }
    }

    /// Changes a topic and saves it; the error when it does not exist.
    @discardableResult
    public func updateTopic<T: Sendable>(_ arn: String, _ change: @escaping @Sendable (inout Topic) throws(ServiceError) -> T) async throws -> T {
        try await changes.run {
            guard var topic = self.topic(named: arn) else {
                throw ServiceError(type: "NotFound", message: "Topic does not exist", statusCode: 404)
            }
            let result = try change(&topic)
            try await self.store.saveTopic(topic)
            self.state.withLock { Self.put(topic, in: &$0) }
            return result
        }
    }

    /// The subscription and its topic's ARN.
    public func subscription(arn: String) -> TopicSubscription? {
        state.withLock { state in
            for topic in state.topics.values {
                if let found = topic.subscriptions.first(where: { $0.arn == arn }) { return found }
            }
            return nil
        }
    }

    // MARK: Event buses

    public func eventBusARN(_ name: String) -> String { MessagingARN.eventBus(name, region: region, account: account) }

    public var eventBuses: [EventBus] { state.withLock { $0.buses.values.sorted { $0.arn < $1.arn } } }

    public func eventBus(named name: String) -> EventBus? { state.withLock { $0.buses[eventBusARN(name)] } }

    /// Creates the bus; the error when it exists.
    @discardableResult
    public func createEventBus(_ name: String) async throws -> EventBus {
        try await changes.run {
            if self.eventBus(named: name) != nil {
                throw ServiceError(type: "ResourceAlreadyExistsException", message: "Event bus \(name) already exists.", statusCode: 400)
            }
            let bus = EventBus(name: name, arn: self.eventBusARN(name))
            try await self.store.saveEventBus(bus)
            self.state.withLock { Self.put(bus, in: &$0) }
            return bus
        }
    }

    public func deleteEventBus(_ name: String) async throws {
        let arn = eventBusARN(name)
        try await changes.run {
            try await self.store.deleteEventBus(arn: arn)
            _ = self.state.withLock { state in
                state.buses[arn] = nil
                state.routableBuses[arn] = nil
            }
        }
    }

    /// Changes a bus and saves it; the error when it does not exist.
    @discardableResult
    public func updateEventBus<T: Sendable>(_ name: String, _ change: @escaping @Sendable (inout EventBus) throws(ServiceError) -> T) async throws -> T {
        try await changes.run {
            guard var bus = self.eventBus(named: name) else {
                throw ServiceError(type: "ResourceNotFoundException", message: "Event bus \(name) does not exist.", statusCode: 400)
            }
            let result = try change(&bus)
            try await self.store.saveEventBus(bus)
            self.state.withLock { Self.put(bus, in: &$0) }
            return result
        }
    }

    private static func put(_ topic: Topic, in state: inout State) {
        state.topics[topic.arn] = topic
        state.routableTopics[topic.arn] = RoutableTopic(topic)
    }

    private static func put(_ bus: EventBus, in state: inout State) {
        state.buses[bus.arn] = bus
        state.routableBuses[bus.arn] = RoutableBus(bus)
    }
}

extension MessagingRegistry {
    /// Creates what the configuration file declares. A declared subscription (same protocol and
    /// endpoint) or rule (same name) replaces the one kept from before; subscriptions and rules
    /// created through the API stay.
    public func declare(topics: [ConfigurationFile.TopicDeclaration], eventBuses: [ConfigurationFile.EventBusDeclaration]) async throws {
        for declared in topics {
            let topic = try await createTopic(declared.name)
            try await updateTopic(topic.arn) { topic throws(ServiceError) in
                for wanted in declared.subscriptions {
                    let existing = topic.subscriptions.firstIndex { $0.kind == wanted.kind && $0.endpoint == wanted.endpoint }
                    let subscription = TopicSubscription(
                        arn: existing.map { topic.subscriptions[$0].arn } ?? "\(topic.arn):\(RequestID.make())", topicARN: topic.arn,
                        kind: wanted.kind, endpoint: wanted.endpoint, rawMessageDelivery: wanted.rawMessageDelivery,
                        filterPolicy: wanted.filterPolicy, filterPolicyScope: wanted.filterPolicyScope)
                    if let existing { topic.subscriptions[existing] = subscription } else { topic.subscriptions.append(subscription) }
                }
            }
        }
        for declared in eventBuses {
            if eventBus(named: declared.name) == nil { try await createEventBus(declared.name) }
            let region = region, account = account
            try await updateEventBus(declared.name) { bus throws(ServiceError) in
                for wanted in declared.rules {
                    let rule = EventRule(name: wanted.name, arn: MessagingARN.rule(wanted.name, bus: bus.name, region: region, account: account),
                                         eventPattern: wanted.eventPattern, enabled: wanted.enabled, description: wanted.description,
                                         targets: wanted.targets)
                    if let existing = bus.rules.firstIndex(where: { $0.name == wanted.name }) { bus.rules[existing] = rule } else {
                        bus.rules.append(rule)
                    }
                }
            }
        }
    }
}
