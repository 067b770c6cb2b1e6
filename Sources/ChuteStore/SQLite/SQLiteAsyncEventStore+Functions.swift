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
        try await perform { connection throws(StoreError) in
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
}
