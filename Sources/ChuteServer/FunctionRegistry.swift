import ChuteAsync
import ChuteCore
import ChuteHost
import ChuteWorkers
import Logging
import Synchronization

/// The functions a host serves: their configuration, their worker pool and their asynchronous
/// settings, found by name, partial ARN or full ARN.
public final class FunctionRegistry: AsyncFunctionDirectory, Sendable {
    public struct Entry: Sendable {
        public let configuration: FunctionConfiguration
        public let pool: any FunctionPool
        public var asyncSettings: ConfigurationFile.AsyncSettings { didSet { refreshAsyncFunction() } }
        public var lastModifiedMilliseconds: Int64
        /// PutFunctionConcurrency's value; nil when unreserved.
        public var reservedConcurrency: Int? { didSet { refreshAsyncFunction() } }
        /// How the function was created through the API; nil for functions the configuration file declares.
        var definition: FunctionDefinition?
        /// The function as the asynchronous pipeline sees it, built when the entry changes rather
        /// than on every accept (it parses the destinations' ARNs).
        private(set) var asyncFunction: AsyncFunction

        init(configuration: FunctionConfiguration, pool: any FunctionPool, asyncSettings: ConfigurationFile.AsyncSettings,
             lastModifiedMilliseconds: Int64, reservedConcurrency: Int?, definition: FunctionDefinition?) {
            self.configuration = configuration
            self.pool = pool
            self.asyncSettings = asyncSettings
            self.lastModifiedMilliseconds = lastModifiedMilliseconds
            self.reservedConcurrency = reservedConcurrency
            self.definition = definition
            asyncFunction = Self.asyncFunction(configuration, pool, asyncSettings, reservedConcurrency)
        }

        private mutating func refreshAsyncFunction() {
            asyncFunction = Self.asyncFunction(configuration, pool, asyncSettings, reservedConcurrency)
        }

        private static func asyncFunction(_ configuration: FunctionConfiguration, _ pool: any FunctionPool,
                                          _ settings: ConfigurationFile.AsyncSettings, _ reservedConcurrency: Int?) -> AsyncFunction {
            AsyncFunction(name: configuration.name, arn: configuration.arn, pool: pool, concurrency: configuration.concurrency,
                          invokeConfig: settings.invokeConfig, deadLetterTarget: settings.deadLetterTarget,
                          reservedConcurrency: reservedConcurrency)
        }
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Starts a pool for `configuration` and registers it (replacing a function of that name).
    public func add(_ configuration: FunctionConfiguration, asyncSettings: ConfigurationFile.AsyncSettings,
                    reservedConcurrency: Int? = nil, now: Int64) async throws {
        try await add(configuration, asyncSettings: asyncSettings, definition: nil, reservedConcurrency: reservedConcurrency, now: now)
    }

    func add(_ configuration: FunctionConfiguration, asyncSettings: ConfigurationFile.AsyncSettings, definition: FunctionDefinition?,
             reservedConcurrency: Int?, now: Int64) async throws {
        let pool = try await startPool(configuration)
        await install(configuration, pool: pool, asyncSettings: asyncSettings, definition: definition, reservedConcurrency: reservedConcurrency,
                      now: now)
    }

    /// Starts a pool for `configuration` (its library loaded) without registering it.
    func startPool(_ configuration: FunctionConfiguration) async throws -> any FunctionPool {
        try await FunctionPools.start(configuration, logger: logger)
    }

    /// Registers a started pool under the function's name, replacing (and stopping) the one before.
    func install(_ configuration: FunctionConfiguration, pool: any FunctionPool, asyncSettings: ConfigurationFile.AsyncSettings,
                 definition: FunctionDefinition?, reservedConcurrency: Int?, now: Int64) async {
        let previous = entries.withLock { entries in
            defer {
                entries[configuration.name] = Entry(configuration: configuration, pool: pool, asyncSettings: asyncSettings,
                                                    lastModifiedMilliseconds: now, reservedConcurrency: reservedConcurrency,
                                                    definition: definition)
            }
            return entries[configuration.name]
        }
        // In-flight invocations finish on the old pool; new ones already go to the new one.
        if let previous { await previous.pool.shutdown() }
    }

    /// Unregisters the function and stops its pool.
    public func remove(_ name: String) async {
        let removed = entries.withLock { $0.removeValue(forKey: name) }
        if let removed { await removed.pool.shutdown() }
    }

    func setDefinition(_ name: String, _ definition: FunctionDefinition) {
        entries.withLock { $0[name]?.definition = definition }
    }

    public func entry(named name: String) -> Entry? {
        entries.withLock { $0[name] }
    }

    public var all: [Entry] {
        entries.withLock { Array($0.values) }.sorted { $0.configuration.name < $1.configuration.name }
    }

    @discardableResult
    public func setReservedConcurrency(_ name: String, _ value: Int?) -> Entry? {
        entries.withLock { entries in
            entries[name]?.reservedConcurrency = value
            return entries[name]
        }
    }

    public func updateAsyncSettings(_ name: String, _ update: (inout ConfigurationFile.AsyncSettings) -> Void, now: Int64) -> Entry? {
        entries.withLock { entries in
            guard var entry = entries[name] else { return nil }
            update(&entry.asyncSettings)
            entry.lastModifiedMilliseconds = now
            entries[name] = entry
            return entry
        }
    }

    public func function(named name: String) -> AsyncFunction? {
        entries.withLock { $0[name]?.asyncFunction }
    }

    public func shutdown() async {
        let pools = entries.withLock { entries in
            defer { entries.removeAll() }
            return entries.values.map(\.pool)
        }
        for pool in pools { await pool.shutdown() }
    }

    /// The function name in a Lambda `FunctionName`: a name, `ACCOUNT:function:NAME` or a full
    /// ARN, each with an optional `:QUALIFIER`. Returns (name, qualifier).
    public static func parseFunctionName(_ text: String) -> (name: String, qualifier: String?)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1: return parts[0].isEmpty ? nil : (parts[0], nil)
        case 2: return (parts[0], parts[1])
        case 3 where parts[1] == "function": return (parts[2], nil)
        case 4 where parts[1] == "function": return (parts[2], parts[3])
        case 7 where parts[0] == "arn" && parts[5] == "function": return (parts[6], nil)
        case 8 where parts[0] == "arn" && parts[5] == "function": return (parts[6], parts[7])
        default: return nil
        }
    }
}
