import ArgumentParser
import ChuteHost
import ChuteServer
import ChuteStore
import Glibc
import Logging

/// `chute serve --config FILE --data-dir DIR --port N`
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the configured functions behind Lambda- and SQS-compatible HTTP APIs, with durable asynchronous invocations.")

    @Option(help: "The configuration file (functions, their async settings, queues).") var config: String
    @Option(help: "Directory for the embedded store and unpacked function code (created if missing).") var dataDir = "chute-data"
    @Option(help: "A PostgreSQL URL (postgres://user@host:port/database) to share the store with other hosts; overrides the configuration file's `store`. SQLite in --data-dir when neither is given.")
    var store: String?
    @Option(help: "On a shared store: seconds an event lease lasts unless this host renews it (a dead host's events run elsewhere after this).")
    var leaseSeconds = 30
    @Option(help: "Port to listen on (0: any free port; the URL is printed).") var port = 9000
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(help: "Log format on standard error: text, or json (one object per line with its requestId).") var logFormat = "text"

    func run() async throws {
        let file: ConfigurationFile
        do {
            file = try ConfigurationFile.load(path: config)
        } catch let error as ConfigurationFileError {
            Chute.printError("\(error)")
            throw ExitCode(64)
        }
        guard let level = Logger.Level(rawValue: logLevel) else {
            Chute.printError("--log-level \(logLevel) is not one of trace, debug, info, notice, warning, error, critical")
            throw ExitCode(64)
        }
        switch logFormat {
        case "text": LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        case "json": LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        default:
            Chute.printError("--log-format \(logFormat) is not text or json")
            throw ExitCode(64)
        }
        var logger = Logger(label: "chute")
        logger.logLevel = level
        guard (3...3600).contains(leaseSeconds) else {
            Chute.printError("--lease-seconds \(leaseSeconds) must be from 3 to 3600")
            throw ExitCode(64)
        }
        let storeURL = store ?? file.store
        let storeName: String
        do {
            storeName = try storeURL.map { try PostgresTarget(url: $0).displayName } ?? "\(dataDir)/chute.sqlite"
        } catch {
            Chute.printError("--store: \(error)")
            throw ExitCode(64)
        }
        try await HostServer.run(configuration: file, dataDirectory: dataDir, storeURL: storeURL, leaseMilliseconds: Int64(leaseSeconds) * 1000,
                                 host: host, port: port, logger: logger) { url in
            Chute.printLine("chute serve: listening on \(url) (\(file.functions.count) functions, store \(storeName))")
        }
    }
}
