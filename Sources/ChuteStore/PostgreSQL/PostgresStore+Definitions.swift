import ChuteCore

/// Function definitions (with their code), topics, event buses and event source mappings, shared by
/// every host on the database: each host takes up what the others change (`DefinitionRefreshService`
/// in ChuteServer), so what one host creates through an API the others serve.
extension PostgresStore: FunctionDefinitionStore, MessagingDefinitionStore, MappingDefinitionStore {
    public func saveFunction(name: String, definition: String, code: [UInt8]?, now: Int64) async throws {
        try await perform { connection throws(StoreError) in
            try SharedStatements.saveFunction(connection, name: name, definition: definition, code: code, now: now)
        }
    }

    public func storedFunctions(withCode: Bool) async throws -> [StoredFunction] {
        try await perform(durable: false) { connection throws(StoreError) in try SharedStatements.storedFunctions(connection, withCode: withCode) }
    }

    public func deleteFunction(named name: String) async throws {
        try await perform { connection throws(StoreError) in try SharedStatements.deleteFunction(connection, named: name) }
    }

    public func saveTopic(_ topic: Topic) async throws { try await saveDefinition(kind: "topic", arn: topic.arn, topic) }
    public func deleteTopic(arn: String) async throws { try await deleteDefinition(kind: "topic", arn: arn) }
    public func storedTopics() async throws -> [Topic] { try await storedDefinitions(kind: "topic") }
    public func saveEventBus(_ bus: EventBus) async throws { try await saveDefinition(kind: "bus", arn: bus.arn, bus) }
    public func deleteEventBus(arn: String) async throws { try await deleteDefinition(kind: "bus", arn: arn) }
    public func storedEventBuses() async throws -> [EventBus] { try await storedDefinitions(kind: "bus") }
    public func saveMapping(_ mapping: EventSourceMapping) async throws { try await saveDefinition(kind: "mapping", arn: mapping.uuid, mapping) }
    public func deleteMapping(uuid: String) async throws { try await deleteDefinition(kind: "mapping", arn: uuid) }
    public func storedMappings() async throws -> [EventSourceMapping] { try await storedDefinitions(kind: "mapping") }

    private func saveDefinition(kind: String, arn: String, _ value: some Encodable & Sendable) async throws {
        let text = try DefinitionCoding.encode(value, kind: kind, arn: arn)
        try await perform { connection throws(StoreError) in try SharedStatements.saveDefinition(connection, kind: kind, arn: arn, text: text) }
    }

    private func deleteDefinition(kind: String, arn: String) async throws {
        try await perform { connection throws(StoreError) in try SharedStatements.deleteDefinition(connection, kind: kind, arn: arn) }
    }

    private func storedDefinitions<T: Decodable & Sendable>(kind: String) async throws -> [T] {
        let texts = try await perform(durable: false) { connection throws(StoreError) in try SharedStatements.definitionTexts(connection, kind: kind) }
        return try texts.map { text throws in try DefinitionCoding.decode(text, kind: kind) }
    }
}
