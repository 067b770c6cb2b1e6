import ChuteCore
import ChuteStore
import Foundation
import Testing

/// The stores the conformance suite runs against. PostgreSQL runs when the test command started
/// its cluster (`CHUTE_TEST_POSTGRES_URL`, set by scripts/test.sh); `CHUTE_TEST_REQUIRE_POSTGRES=1`
/// (also set there) makes a missing cluster a failure rather than a skipped store.
enum StoreKind: String, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    static var all: [StoreKind] {
        let environment = ProcessInfo.processInfo.environment
        let postgres = environment["CHUTE_TEST_POSTGRES_URL"] != nil || environment["CHUTE_TEST_REQUIRE_POSTGRES"] == "1"
        return postgres ? [.sqlite, .postgres] : [.sqlite]
    }

    var testDescription: String { rawValue }

    func makeStore() async throws -> any HostStore {
        switch self {
        case .sqlite: try SQLiteAsyncEventStore(path: SQLiteAsyncEventStoreTests.freshPath())
        case .postgres: try PostgresStore(url: try Self.freshSchemaURL())
        }
    }

    /// The test cluster's URL with a schema of its own, so tests running at once never meet.
    static func freshSchemaURL(connections: Int = 2) throws -> String {
        guard let base = ProcessInfo.processInfo.environment["CHUTE_TEST_POSTGRES_URL"] else {
            throw StoreError("CHUTE_TEST_REQUIRE_POSTGRES is set but CHUTE_TEST_POSTGRES_URL is not: run scripts/test.sh, which starts a PostgreSQL cluster")
        }
        let schema = "t_" + UUID().uuidString.lowercased().replacing("-", with: "")
        return base + (base.contains("?") ? "&" : "?") + "schema=\(schema)&connections=\(connections)"
    }
}
