import CSQLite

/// One SQLite connection: prepared statements, binding, stepping and transactions. Not
/// thread-safe: the store that owns it uses it from one serial queue.
final class SQLiteConnection: SQLConnection {
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    let path: String

    init(path: String) throws(StoreError) {
        self.path = path
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw StoreError("cannot open the SQLite database \(path): \(message)")
        }
        sqlite3_busy_timeout(handle, 5_000)
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements without results (schema, pragmas).
    func execute(_ sql: String) throws(StoreError) {
        var error: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(handle, sql, nil, nil, &error) == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(error)
            throw StoreError("SQLite error in \(path): \(message) (in: \(sql.prefix(80)))")
        }
    }

    /// Runs `body` in one transaction (BEGIN IMMEDIATE: writers never deadlock on upgrade); rolls
    /// back if it throws.
    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Runs a cached statement with `bindings`, calling `row` for each result row.
    func run(_ sql: String, _ bindings: [SQLValue] = [], row: (SQLiteRow) throws(StoreError) -> Void = { _ in }) throws(StoreError) {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, value) in bindings.enumerated() {
            let position = Int32(index + 1)
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(statement, position)
            case .integer(let number): status = sqlite3_bind_int64(statement, position, number)
            case .text(let text): status = sqlite3_bind_text(statement, position, text, -1, csqlite_transient())
            case .blob(let bytes):
                status = bytes.withUnsafeBytes { raw in
                    sqlite3_bind_blob(statement, position, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(raw.count), csqlite_transient())
                }
            }
            guard status == SQLITE_OK else { throw failure("binding parameter \(position)", sql) }
        }
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { return }
            guard status == SQLITE_ROW else { throw failure("running", sql) }
            try row(SQLiteRow(statement: statement))
        }
    }

    /// Adds the columns a table created by an older Chute lacks (`name`, `definition`).
    func addMissingColumns(to table: String, _ columns: [(String, String)]) throws(StoreError) {
        var existing: Set<String> = []
        try run("SELECT name FROM pragma_table_info('\(table)')") { row in existing.insert(row.text(0) ?? "") }
        for (name, definition) in columns where !existing.contains(name) {
            try execute("ALTER TABLE \(table) ADD COLUMN \(name) \(definition)")
        }
    }

    /// Rows changed by the last statement.
    var changes: Int { Int(sqlite3_changes(handle)) }

    /// The rowid of the last row inserted.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    private func prepared(_ sql: String) throws(StoreError) -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK, let statement else {
            throw failure("preparing", sql)
        }
        statements[sql] = statement
        return statement
    }

    private func failure(_ action: String, _ sql: String) -> StoreError {
        StoreError("SQLite error \(action) in \(path): \(String(cString: sqlite3_errmsg(handle))) (in: \(sql.prefix(80)))")
    }
}

typealias SQLiteValue = SQLValue

/// The current row of a statement, valid only inside the row callback.
struct SQLiteRow: SQLRow {
    let statement: OpaquePointer

    func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

    func text(_ column: Int32) -> String? {
        guard sqlite3_column_type(statement, column) != SQLITE_NULL, let text = sqlite3_column_text(statement, column) else { return nil }
        return String(cString: text)
    }

    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let bytes = sqlite3_column_blob(statement, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }
}
