/// Where a PostgreSQL store lives, from a `postgres://` URL as `chute serve --store` takes it.
///
/// libpq reads the URL itself (user, password, host, port, database, and its own parameters such
/// as `sslmode` or `connect_timeout`). Chute's parameters are taken out first:
/// - `schema`: the schema holding Chute's tables (created if missing), so several Chute
///   deployments or test runs can share one database; `public` when absent.
/// - `connections`: connections this host opens (4 when absent), each on a thread of its own.
public struct PostgresTarget: Sendable, Hashable {
    public var connectionString: String
    public var schema: String?
    public var connections: Int
    /// The URL without its password, for logs and errors.
    public var displayName: String

    public init(url: String) throws(StoreError) {
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
            throw StoreError("the store URL \(url) is not a PostgreSQL URL (postgres://user@host:port/database)")
        }
        let parts = url.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var kept: [Substring] = []
        var schema: String?
        var connections = 4
        if parts.count == 2 {
            for parameter in parts[1].split(separator: "&") {
                let pair = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let value = pair.count == 2 ? String(pair[1]) : ""
                switch pair[0] {
                case "schema":
                    guard !value.isEmpty, value.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || (48...57).contains($0) || (97...122).contains($0) })
                    else { throw StoreError("the store URL's schema \"\(value)\" must be lowercase letters, digits and _") }
                    schema = value
                case "connections":
                    guard let count = Int(value), (1...64).contains(count) else {
                        throw StoreError("the store URL's connections \"\(value)\" must be a number from 1 to 64")
                    }
                    connections = count
                default:
                    kept.append(parameter)
                }
            }
        }
        connectionString = String(parts[0]) + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
        self.schema = schema
        self.connections = connections
        displayName = Self.withoutPassword(String(parts[0]))
    }

    /// The same database with `count` connections (a command-line tool needs one).
    public func withConnections(_ count: Int) -> PostgresTarget {
        var target = self
        target.connections = count
        return target
    }

    private static func withoutPassword(_ url: String) -> String {
        guard let scheme = url.firstRange(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@") else { return url }
        let credentials = url[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }
}
