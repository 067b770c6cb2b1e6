/// Function definitions and their code zips, in the same file as the events that invoke them.
extension SQLiteAsyncEventStore: FunctionDefinitionStore {
    static let functionsSchema = """
        CREATE TABLE IF NOT EXISTS function_definitions (
            name TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            code BLOB NOT NULL,
            modified_at INTEGER NOT NULL
        );
        """

    public func saveFunction(name: String, definition: String, code: [UInt8]?, now: Int64) async throws {
        try await perform { connection throws(StoreError) in
            try SharedStatements.saveFunction(connection, name: name, definition: definition, code: code, now: now)
        }
    }

    public func storedFunctions(withCode: Bool) async throws -> [StoredFunction] {
        try await perform { connection throws(StoreError) in try SharedStatements.storedFunctions(connection, withCode: withCode) }
    }

    public func deleteFunction(named name: String) async throws {
        try await perform { connection throws(StoreError) in try SharedStatements.deleteFunction(connection, named: name) }
    }
}
