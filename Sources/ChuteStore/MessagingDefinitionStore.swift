import ChuteCore

/// Topics (with their subscriptions) and event buses (with their rules and targets), kept so that
/// they come back after a restart and so that several hosts on one store share them.
public protocol MessagingDefinitionStore: Sendable {
    func saveTopic(_ topic: Topic) async throws
    func deleteTopic(arn: String) async throws
    func storedTopics() async throws -> [Topic]
    func saveEventBus(_ bus: EventBus) async throws
    func deleteEventBus(arn: String) async throws
    func storedEventBuses() async throws -> [EventBus]
}

/// Event source mappings, kept so that they come back after a restart and so that several hosts on
/// one store run the same mappings (sharing their shards through leases).
public protocol MappingDefinitionStore: Sendable {
    func saveMapping(_ mapping: EventSourceMapping) async throws
    func deleteMapping(uuid: String) async throws
    func storedMappings() async throws -> [EventSourceMapping]
}
