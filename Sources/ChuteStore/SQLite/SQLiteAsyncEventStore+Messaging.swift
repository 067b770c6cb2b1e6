import ChuteCore
import FoundationEssentials

/// Topics, event buses and event source mappings as JSON documents, one row each.
extension SQLiteAsyncEventStore: MessagingDefinitionStore {
    static let messagingSchema = """
        CREATE TABLE IF NOT EXISTS messaging_definitions (
            kind TEXT NOT NULL,
            arn TEXT NOT NULL,
            definition TEXT NOT NULL,
            PRIMARY KEY (kind, arn)
        );
        """

    public func saveTopic(_ topic: Topic) async throws {
        try await saveDefinition(kind: "topic", arn: topic.arn, topic)
    }

    public func deleteTopic(arn: String) async throws {
        try await deleteDefinition(kind: "topic", arn: arn)
    }

    public func storedTopics() async throws -> [Topic] {
        try await storedDefinitions(kind: "topic")
    }

    public func saveEventBus(_ bus: EventBus) async throws {
        try await saveDefinition(kind: "bus", arn: bus.arn, bus)
    }

    public func deleteEventBus(arn: String) async throws {
        try await deleteDefinition(kind: "bus", arn: arn)
    }

    public func storedEventBuses() async throws -> [EventBus] {
        try await storedDefinitions(kind: "bus")
    }

    func saveDefinition(kind: String, arn: String, _ value: some Encodable & Sendable) async throws {
        let text = try DefinitionCoding.encode(value, kind: kind, arn: arn)
        try await perform { connection throws(StoreError) in try SharedStatements.saveDefinition(connection, kind: kind, arn: arn, text: text) }
    }

    func deleteDefinition(kind: String, arn: String) async throws {
        try await perform { connection throws(StoreError) in try SharedStatements.deleteDefinition(connection, kind: kind, arn: arn) }
    }

    func storedDefinitions<T: Decodable & Sendable>(kind: String) async throws -> [T] {
        let texts = try await perform(durable: false) { connection throws(StoreError) in try SharedStatements.definitionTexts(connection, kind: kind) }
        return try texts.map { text throws in try DefinitionCoding.decode(text, kind: kind) }
    }
}

extension SQLiteAsyncEventStore: MappingDefinitionStore {
    public func saveMapping(_ mapping: EventSourceMapping) async throws {
        try await saveDefinition(kind: "mapping", arn: mapping.uuid, mapping)
    }

    public func deleteMapping(uuid: String) async throws {
        try await deleteDefinition(kind: "mapping", arn: uuid)
    }

    public func storedMappings() async throws -> [EventSourceMapping] {
        try await storedDefinitions(kind: "mapping")
    }
}
