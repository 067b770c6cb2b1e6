/// What the SQLite and PostgreSQL connections have in common, so that statements both stores run
/// alike are written once (`SharedStatements`, `StoredRows`). Statements use SQLite's placeholders
/// (`?`, `?N`); the PostgreSQL connection numbers them its way.
protocol SQLConnection: AnyObject {
    associatedtype Row: SQLRow
    /// Runs a statement with `bindings`, calling `row` for each result row.
    func run(_ sql: String, _ bindings: [SQLValue], row: (Row) throws(StoreError) -> Void) throws(StoreError)
    /// Rows changed by the last statement.
    var changes: Int { get }
}

/// A result row, valid only inside the row callback.
protocol SQLRow {
    func integer(_ column: Int32) -> Int64
    func text(_ column: Int32) -> String?
    func blob(_ column: Int32) -> [UInt8]
    func isNull(_ column: Int32) -> Bool
}

enum SQLValue {
    case null
    case integer(Int64)
    case text(String)
    case blob([UInt8])

    static func optionalText(_ text: String?) -> SQLValue { text.map { .text($0) } ?? .null }
}
