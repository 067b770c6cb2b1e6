import ChuteCore
import FoundationEssentials

/// Function definitions (with their code), topics, event buses and event source mappings, shared by
/// every host on the database: each host reloads them (`MessagingRegistry`, `MappingRegistry` and
/// `FunctionManager` refresh), so what one host creates through an API the others serve.
extension PostgresStore: FunctionDefinitionStore, MessagingDefinitionStore, MappingDefinitionStore {
    public func saveFunction(name: String, definition: String, code: [UInt8]?, now: Int64) async throws {
        try await perform { connection throws(StoreError) in
            if let code {
                try connection.run("""
                    INSERT INTO function_definitions (name, definition, code, modified_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, code = excluded.code, modified_at = excluded.modified_at
                    """, [.text(name), .text(definition), .blob(code), .integer(now)])
            } else {
                try connection.run("UPDATE function_definitions SET definition = ?, modified_at = ? WHERE name = ?",
                                   [.text(definition), .integer(now), .text(name)])
                guard connection.changes == 1 else { throw StoreError("the function \(name) is not stored; save it with its code first") }
            }
        }
    }

    public func storedFunctions() async throws -> [StoredFunction] {
        try await perform(durable: false) { connection throws(StoreError) in
            var functions: [StoredFunction] = []
            try connection.run("SELECT name, definition, code, modified_at FROM function_definitions ORDER BY name") { row in
                functions.append(StoredFunction(name: row.text(0) ?? "", definition: row.text(1) ?? "", code: row.blob(2),
                                                modifiedAtMilliseconds: row.integer(3)))
            }
            return functions
        }
    }

    public func deleteFunction(named name: String) async throws {
        try await perform { connection throws(StoreError) in
            try connection.run("DELETE FROM function_definitions WHERE name = ?", [.text(name)])
        }
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
        try await perform { connection throws(StoreError) in
            try connection.run("""
                INSERT INTO messaging_definitions (kind, arn, definition) VALUES (?, ?, ?)
                ON CONFLICT (kind, arn) DO UPDATE SET definition = excluded.definition
                """, [.text(kind), .text(arn), .text(text)])
        }
    }

    private func deleteDefinition(kind: String, arn: String) async throws {
        try await perform { connection throws(StoreError) in
            try connection.run("DELETE FROM messaging_definitions WHERE kind = ? AND arn = ?", [.text(kind), .text(arn)])
        }
    }

    private func storedDefinitions<T: Decodable & Sendable>(kind: String) async throws -> [T] {
        let texts: [String] = try await perform(durable: false) { connection throws(StoreError) in
            var texts: [String] = []
            try connection.run("SELECT definition FROM messaging_definitions WHERE kind = ? ORDER BY arn", [.text(kind)]) { row in
                texts.append(row.text(0) ?? "")
            }
            return texts
        }
        return try texts.map { text throws in try DefinitionCoding.decode(text, kind: kind) }
    }
}
