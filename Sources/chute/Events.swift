import ArgumentParser
import ChuteCore
import ChuteServer
import ChuteStore
import Foundation

/// `chute events`: the asynchronous events that failed or could not be delivered, for people:
/// list, show, redrive. Safe beside a running `chute serve` on the same data directory.
struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect and redrive failed asynchronous events; list and redeliver undeliverable records.",
        subcommands: [Failed.self, Show.self, Redrive.self, Undeliverable.self, Redeliver.self])

    struct Store: ParsableArguments {
        @Option(help: "The data directory of `chute serve`.") var dataDir = "chute-data"
        @Option(help: "The PostgreSQL store the hosts share (postgres://…), instead of the data directory's SQLite file.") var store: String?

        func open() throws -> any HostStore {
            if let store { return try PostgresStore(PostgresTarget(url: store).withConnections(1)) }
            let path = dataDir + "/chute.sqlite"
            guard FileManager.default.fileExists(atPath: path) else {
                throw ValidationError("no store at \(path): pass the --data-dir that `chute serve` used")
            }
            return try SQLiteAsyncEventStore(path: path, releaseLeases: false)
        }
    }

    struct Failed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List failed events, newest first.")
        @OptionGroup var store: Store
        @Option(help: "At most this many.") var limit = 50

        func run() async throws {
            let failed = try await store.open().failedEvents(limit: limit)
            if failed.isEmpty { Chute.printLine("no failed events") }
            for item in failed {
                let error = Events.errorSummary(item.record)
                Chute.printLine("\(item.event.requestID)  \(item.event.functionName)  \(item.condition.rawValue)  "
                                + "attempts: \(item.event.invokeCount)  finished: \(Timestamps.iso8601(milliseconds: item.finishedAtMilliseconds))  \(error)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one failed event's invocation record and its event.")
        @OptionGroup var store: Store
        @Argument(help: "The request id.") var requestID: String

        func run() async throws {
            guard let item = try await store.open().failedEvent(requestID: requestID) else {
                throw ValidationError("no failed event with request id \(requestID)")
            }
            Chute.printLine(item.record)
        }
    }

    struct Redrive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run failed events again with their request ids (a running `chute serve` picks them up).")
        @OptionGroup var store: Store
        @Argument(help: "Request ids to redrive.") var requestIDs: [String] = []
        @Flag(help: "Redrive every failed event.") var all = false

        func validate() throws {
            if all == !requestIDs.isEmpty { throw ValidationError("name request ids or pass --all (not both)") }
        }

        func run() async throws {
            let redriven = try await store.open().redrive(all ? nil : requestIDs, now: HostServer.wallMilliseconds())
            let missing = Set(requestIDs).subtracting(redriven)
            Chute.printLine("redriven: \(redriven.count)")
            if !missing.isEmpty {
                Chute.printError("not failed (unknown or already redriven): \(missing.sorted().joined(separator: ", "))")
                throw ExitCode(1)
            }
        }
    }

    struct Undeliverable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List records a destination could not take (r…) and POSTs whose attempts ran out (h…), with the reason.")
        @OptionGroup var store: Store
        @Option(help: "At most this many of each.") var limit = 50

        func run() async throws {
            let store = try store.open()
            let records = try await store.undeliverableRecords(limit: limit)
            let posts = try await store.undeliverableHTTPDeliveries(limit: limit)
            if records.isEmpty && posts.isEmpty { Chute.printLine("no undeliverable records") }
            for record in records {
                Chute.printLine("r\(record.id)  \(record.requestID)  \(record.destination)  \(record.reason)")
            }
            for post in posts {
                Chute.printLine("h\(post.id)  \(post.delivery.requestID)  \(post.delivery.url)  attempts: \(post.attempts)  \(post.lastError ?? "")")
            }
        }
    }

    struct Redeliver: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deliver undeliverable records again (ids from `chute events undeliverable`), once their cause is fixed.",
            discussion: """
                A record goes to its destination again (queue, function, topic, event bus or URL) and leaves the list in the \
                same transaction; if it still cannot be delivered it is listed again with the new reason. A POST goes back to \
                the outbox with fresh attempts, for a running `chute serve` to make. A dead-letter message is redelivered as \
                its invocation record (which holds the event as requestPayload).
                """)
        @OptionGroup var store: Store
        @Argument(help: "Ids such as r12 (a record) or h7 (a POST).") var ids: [String] = []
        @Flag(help: "Redeliver everything kept.") var all = false

        func validate() throws {
            if all == !ids.isEmpty { throw ValidationError("name ids (r12, h7) or pass --all (not both)") }
            for id in ids where !(id.hasPrefix("r") || id.hasPrefix("h")) || Int64(id.dropFirst()) == nil {
                throw ValidationError("'\(id)' is not an id from `chute events undeliverable` (r12 for a record, h7 for a POST)")
            }
        }

        func run() async throws {
            let store = try store.open()
            let messaging = MessagingRegistry(store: store)
            try await messaging.restore()
            let records = ids.filter { $0.hasPrefix("r") }.compactMap { Int64($0.dropFirst()) }
            let posts = ids.filter { $0.hasPrefix("h") }.compactMap { Int64($0.dropFirst()) }
            let report = try await Redelivery(store: store, messaging: messaging)
                .redeliver(records: all ? nil : records, httpDeliveries: all ? nil : posts, now: HostServer.wallMilliseconds())
            Chute.printLine("redelivered: \(report.records) records, \(report.httpDeliveries) POSTs back in the outbox")
            for kept in report.stillUndeliverable {
                Chute.printError("still undeliverable: \(kept.requestID) to \(kept.destination): \(kept.reason)")
            }
            if !report.stillUndeliverable.isEmpty { throw ExitCode(1) }
        }
    }

    /// "errorType: errorMessage" from an invocation record, if it has one.
    static func errorSummary(_ record: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(record.utf8)) as? [String: Any],
              let payload = object["responsePayload"] as? [String: Any],
              let type = payload["errorType"] as? String else { return "" }
        return "\(type): \(payload["errorMessage"] as? String ?? "")"
    }
}
