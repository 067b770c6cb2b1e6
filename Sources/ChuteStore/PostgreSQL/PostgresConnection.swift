import CLibPQ

/// One libpq connection: prepared statements, parameters, rows and transactions. Not
/// thread-safe: the pool that owns it uses it from one thread at a time. libpq blocks, which is
/// why the PostgreSQL store runs its connections on threads of their own, never on Swift's
/// cooperative pool.
///
/// Statements are written with SQLite's placeholders (`?`, `?N`) and turned into PostgreSQL's
/// (`$N`) once per statement; each is prepared once per connection. Bytes go as binary
/// parameters; results come back as text (bytea as hex).
final class PostgresConnection: SQLConnection {
    private var handle: OpaquePointer?
    private var statements: [String: String] = [:]
    private let connectionString: String
    let schema: String?
    /// The server named for errors, without its password.
    let location: String
    /// Rows changed by the last statement.
    private(set) var changes = 0

    init(_ target: PostgresTarget) throws(StoreError) {
        connectionString = target.connectionString
        schema = target.schema
        location = target.displayName
        try connect()
    }

    deinit { PQfinish(handle) }

    private func connect() throws(StoreError) {
        PQfinish(handle)
        statements = [:]
        handle = PQconnectdb(connectionString)
        guard let handle, PQstatus(handle) == CONNECTION_OK else {
            let message = handle.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            throw StoreError("cannot connect to PostgreSQL at \(location): \(message.trimmingWhitespace)")
        }
        // bytea comes back as hex whatever the server's default (`PostgresRow.blob` reads hex);
        // operators see Chute's connections by name in pg_stat_activity.
        try execute("SET client_min_messages = warning; SET bytea_output = hex; SET application_name = 'chute'")
        // The schema itself is created by the store, under its lock (hosts may start together).
        if let schema { try execute("SET search_path TO \(Self.quoted(schema))") }
    }

    /// Whether the server went away (restart, network): the pool reconnects before the next use.
    var isBroken: Bool { PQstatus(handle) != CONNECTION_OK }

    func reconnect() throws(StoreError) { try connect() }

    /// Runs one or more statements without parameters or results (schema, settings).
    func execute(_ sql: String) throws(StoreError) {
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        try check(result, sql)
    }

    /// Runs `body` in one transaction; rolls back if it throws. `durable: false` commits without
    /// waiting for the server's disk (`synchronous_commit = off`): for leases, which expire anyway.
    func transaction<T>(durable: Bool = true, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try execute(durable ? "BEGIN" : "BEGIN; SET LOCAL synchronous_commit = off")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if !isBroken { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Runs a prepared statement with `bindings`, calling `row` for each result row.
    func run(_ sql: String, _ bindings: [SQLValue] = [], row: (PostgresRow) throws(StoreError) -> Void = { _ in }) throws(StoreError) {
        let name = try prepared(sql)
        var texts: [ContiguousArray<CChar>?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        texts.reserveCapacity(bindings.count)
        for value in bindings {
            switch value {
            case .null:
                texts.append(nil); lengths.append(0); formats.append(0)
            case .integer(let number):
                texts.append(ContiguousArray(String(number).utf8CString)); lengths.append(0); formats.append(0)
            case .text(let text):
                texts.append(ContiguousArray(text.utf8CString)); lengths.append(0); formats.append(0)
            case .blob(let bytes):
                texts.append(ContiguousArray(bytes.map { CChar(bitPattern: $0) } + [0])); lengths.append(Int32(bytes.count)); formats.append(1)
            }
        }
        let result = Self.withPointers(texts) { pointers in
            PQexecPrepared(handle, name, Int32(bindings.count), pointers, lengths, formats, 0)
        }
        defer { PQclear(result) }
        try check(result, sql)
        changes = Int(String(cString: PQcmdTuples(result))) ?? 0
        let rows = PQntuples(result)
        guard rows > 0, let result else { return }
        for index in 0..<rows { try row(PostgresRow(result: result, row: index)) }
    }

    /// Calls `body` with C pointers to each value, valid for the call only.
    private static func withPointers<R>(_ values: [ContiguousArray<CChar>?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafePointer<CChar>?] = []
        pointers.reserveCapacity(values.count)
        func next(_ index: Int) -> R {
            guard index < values.count else { return body(pointers) }
            guard let value = values[index] else {
                pointers.append(nil)
                return next(index + 1)
            }
            return value.withUnsafeBufferPointer { buffer in
                pointers.append(buffer.baseAddress)
                return next(index + 1)
            }
        }
        return next(0)
    }

    private func prepared(_ sql: String) throws(StoreError) -> String {
        if let name = statements[sql] { return name }
        let name = "chute_\(statements.count)"
        let result = PQprepare(handle, name, Self.numberedPlaceholders(sql), 0, nil)
        defer { PQclear(result) }
        try check(result, sql)
        statements[sql] = name
        return name
    }

    private func check(_ result: OpaquePointer?, _ sql: String) throws(StoreError) {
        let status = result.map(PQresultStatus) ?? PGRES_FATAL_ERROR
        guard status != PGRES_COMMAND_OK, status != PGRES_TUPLES_OK, status != PGRES_EMPTY_QUERY else { return }
        let message = result.map { String(cString: PQresultErrorMessage($0)) }.flatMap { $0.isEmpty ? nil : $0 }
            ?? String(cString: PQerrorMessage(handle))
        let state = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) }
        throw StoreError("PostgreSQL error at \(location): \(message.trimmingWhitespace) (in: \(sql.prefix(80)))", sqlState: state)
    }

    /// `?` becomes `$1`, `$2`, ... in order; `?N` becomes `$N`. Quoted text is left alone.
    static func numberedPlaceholders(_ sql: String) -> String {
        var output = ""
        output.reserveCapacity(sql.utf8.count + 16)
        var next = 1
        var quoted = false
        var characters = sql.makeIterator()
        var pending: Character? = characters.next()
        while let character = pending {
            pending = characters.next()
            if character == "'" { quoted.toggle() }
            guard character == "?", !quoted else {
                output.append(character)
                continue
            }
            var digits = ""
            while let digit = pending, digit.isASCII, digit.isNumber {
                digits.append(digit)
                pending = characters.next()
            }
            if digits.isEmpty {
                output += "$\(next)"
                next += 1
            } else {
                output += "$" + digits
            }
        }
        return output
    }

    static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacing("\"", with: "\"\"") + "\""
    }
}

typealias PostgresValue = SQLValue

/// One row of a result, valid only inside the row callback.
struct PostgresRow: SQLRow {
    let result: OpaquePointer
    let row: Int32

    func isNull(_ column: Int32) -> Bool { PQgetisnull(result, row, column) == 1 }

    func integer(_ column: Int32) -> Int64 {
        guard !isNull(column) else { return 0 }
        return Int64(String(cString: PQgetvalue(result, row, column))) ?? 0
    }

    func text(_ column: Int32) -> String? {
        guard !isNull(column) else { return nil }
        return String(cString: PQgetvalue(result, row, column))
    }

    /// A bytea column, which the text protocol sends as `\x` and two hex digits a byte.
    func blob(_ column: Int32) -> [UInt8] {
        guard !isNull(column), let value = PQgetvalue(result, row, column) else { return [] }
        let length = Int(PQgetlength(result, row, column))
        guard length >= 2 else { return [] }
        return UnsafeRawBufferPointer(start: value, count: length).withMemoryRebound(to: UInt8.self) { text in
            func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c &- 48 : (c | 0x20) &- 87 }
            var bytes = [UInt8](repeating: 0, count: (length - 2) / 2)
            for index in bytes.indices { bytes[index] = nibble(text[2 + 2 * index]) << 4 | nibble(text[3 + 2 * index]) }
            return bytes
        }
    }
}

extension String {
    var trimmingWhitespace: String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        return String(text)
    }
}
