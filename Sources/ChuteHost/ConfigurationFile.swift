import ChuteCore
import Foundation
import Yams

/// A Chute configuration file (YAML, or JSON, which YAML reads too):
///
/// ```yaml
/// functions:
///   - name: hypot
///     library: libm.so.6
///     handler: hypot(double,double)->double
///     isolation: thread        # process (default) | thread
///     timeout: 3               # seconds, 1-900
///     initTimeout: 10          # seconds, 1-900
///     memory: 128              # MB, 128-10240
///     concurrency: 10          # 1-1000
///     prewarm: 1               # instances started ahead (process isolation)
///     initConfig: "any text"   # bytes passed to chute_init
///     environment: {KEY: value}
///     async:                   # asynchronous invocations (Lambda's event invoke config)
///       maximumRetryAttempts: 2          # 0-2
///       maximumEventAgeSeconds: 21600    # 60-21600
///       retryDelays: [60, 120]           # seconds before retry 1, 2 (Chute extension)
///       onSuccess: done                  # a queue name, or any destination ARN
///       onFailure: arn:aws:lambda:us-east-1:000000000000:function:cleanup
///     deadLetter: dlq                    # a queue name, or a queue or topic ARN (DeadLetterConfig)
/// queues: [done, dlq]          # built-in queues to create
/// topics:                      # SNS-like topics
///   - name: alerts             # arn:aws:sns:us-east-1:000000000000:alerts
///     subscriptions:
///       - protocol: sqs                  # sqs | lambda | http | https
///         endpoint: dlq                  # a queue or function name, an ARN, or a URL
///         rawMessageDelivery: true
///         filterPolicy: {severity: [high]}
///         filterPolicyScope: MessageAttributes   # or MessageBody
/// eventBuses:                  # EventBridge-like buses (`default` always exists)
///   - name: results
///     rules:
///       - name: failures
///         eventPattern: {source: [lambda], detail-type: [{suffix: Failure}]}
///         targets: [failures, "http://127.0.0.1:8080/hook"]   # queue names, ARNs or URLs
/// httpDelivery: {maximumAttempts: 8, initialDelaySeconds: 1, maximumDelaySeconds: 300, timeoutSeconds: 10}
/// streams:                     # Kinesis-like streams
///   - {name: clicks, shards: 4, retentionHours: 24}
/// mappings:                    # event source mappings (see ConfigurationFile+Mappings)
///   - {function: counter, stream: clicks, startingPosition: TRIM_HORIZON, batchSize: 100, onFailure: failures}
/// store: postgres://chute@127.0.0.1:5432/chute   # shared by several hosts; SQLite in --data-dir when absent
/// server: {maxConnections: 4096, idleTimeoutSeconds: 60}   # the HTTP listener's limits (ConfigurationFile+Server)
/// ```
///
/// Every invalid field is reported, each with its line and path, before anything runs.
public struct ConfigurationFile: Sendable {
    public var functions: [FunctionConfiguration]
    /// Asynchronous settings by function name (every function has one; defaults when not given).
    public var asyncSettings: [String: AsyncSettings] = [:]
    /// Built-in queues to create.
    public var queues: [String] = []
    /// Topics to create, with their subscriptions.
    public var topics: [TopicDeclaration] = []
    /// Event buses to create, with their rules and targets.
    public var eventBuses: [EventBusDeclaration] = []
    /// How POSTs to HTTP endpoints are retried.
    public var httpDelivery = HTTPDeliveryPolicy()
    /// Built-in streams to create.
    public var streams: [StreamDeclaration] = []
    /// Event source mappings to run (kept across restarts under a UUID made from function and source).
    public var mappings: [MappingDeclaration] = []
    /// The PostgreSQL store's URL when hosts share one (`chute serve --store` overrides it); nil
    /// for the embedded SQLite store.
    public var store: String?
    /// The HTTP listener's connection cap and idle timeout.
    public var server = ServerLimits()

    public struct AsyncSettings: Sendable, Hashable {
        public var invokeConfig = EventInvokeConfig()
        public var deadLetterTarget: String?

        public init(invokeConfig: EventInvokeConfig = EventInvokeConfig(), deadLetterTarget: String? = nil) {
            self.invokeConfig = invokeConfig
            self.deadLetterTarget = deadLetterTarget
        }
    }

    public static func load(path: String) throws -> ConfigurationFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationFileError(path: path, problems: ["cannot read the file"])
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    public static func parse(_ text: String, path: String) throws -> ConfigurationFile {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigurationFileError(path: path, problems: ["the file is empty; it needs a 'functions' list"])
            }
            root = node
        } catch let error as ConfigurationFileError {
            throw error
        } catch {
            throw ConfigurationFileError(path: path, problems: ["not valid YAML or JSON: \(error)"])
        }
        var problems: [String] = []
        let baseDirectory = (path as NSString).deletingLastPathComponent
        guard let mapping = root.mapping else {
            throw ConfigurationFileError(path: path, problems: ["\(at(root)): the top level must be a mapping with a 'functions' list"])
        }
        for (key, _) in mapping where !topLevelFields.contains(key.string ?? "") {
            problems.append("\(at(key)): unknown top-level field '\(key.string ?? "?")'; expected one of \(topLevelFields.sorted().joined(separator: ", "))")
        }
        var queues: [String] = []
        if let list = mapping["queues"] {
            if let sequence = list.sequence {
                for (index, item) in sequence.enumerated() {
                    if let name = item.string, item.scalar != nil, QueueName.isValid(name) { queues.append(name) } else {
                        problems.append("\(at(item)): queues[\(index)]: must be a queue name of 1-80 letters, digits, '-' and '_'")
                    }
                }
            } else {
                problems.append("\(at(list)): queues must be a list of names")
            }
        }
        var asyncSettings: [String: AsyncSettings] = [:]
        var functions: [FunctionConfiguration] = []
        if let list = mapping["functions"] {
            if let sequence = list.sequence {
                for (index, item) in sequence.enumerated() {
                    if let function = parseFunction(item, path: "functions[\(index)]", baseDirectory: baseDirectory, problems: &problems) {
                        functions.append(function)
                        if let settings = parseAsync(item, path: "functions[\(index)]", function: function, problems: &problems) {
                            asyncSettings[function.name] = settings
                        }
                    }
                }
            } else {
                problems.append("\(at(list)): functions must be a list")
            }
        } else {
            problems.append("\(at(root)): missing 'functions'")
        }
        var seen: Set<String> = []
        for function in functions where !seen.insert(function.name).inserted {
            problems.append("function name '\(function.name)' is used twice")
        }
        let topics = mapping["topics"].map { parseTopics($0, problems: &problems) } ?? []
        let eventBuses = mapping["eventBuses"].map { parseEventBuses($0, problems: &problems) } ?? []
        let httpDelivery = mapping["httpDelivery"].map { parseHTTPDelivery($0, problems: &problems) } ?? HTTPDeliveryPolicy()
        let streams = mapping["streams"].map { parseStreams($0, problems: &problems) } ?? []
        let mappings = mapping["mappings"].map { parseMappings($0, functions: functions, problems: &problems) } ?? []
        var store: String?
        if let node = mapping["store"] {
            if let url = node.string, url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
                store = url
            } else {
                problems.append("\(at(node)): store: must be a PostgreSQL URL (postgres://user@host:port/database); leave it out for SQLite")
            }
        }
        let server = mapping["server"].map { parseServer($0, problems: &problems) } ?? ServerLimits()
        guard problems.isEmpty else { throw ConfigurationFileError(path: path, problems: problems) }
        return ConfigurationFile(functions: functions, asyncSettings: asyncSettings, queues: queues, topics: topics, eventBuses: eventBuses,
                                 httpDelivery: httpDelivery, streams: streams, mappings: mappings, store: store, server: server)
    }

    static let topLevelFields: Set<String> = ["functions", "queues", "topics", "eventBuses", "httpDelivery", "streams", "mappings", "store", "server"]

    static let asyncFields: Set<String> = ["maximumRetryAttempts", "maximumEventAgeSeconds", "retryDelays", "onSuccess", "onFailure"]

    /// A destination as written: an ARN, a URL, or a bare queue name in the function's account.
    static func destinationARN(_ text: String, function: FunctionConfiguration) -> String {
        destinationARN(text, region: function.region, account: function.accountID)
    }

    static func destinationARN(_ text: String, region: String = FunctionConfiguration.defaultRegion,
                               account: String = FunctionConfiguration.defaultAccountID) -> String {
        text.hasPrefix("arn:") || text.hasPrefix("http://") || text.hasPrefix("https://") ? text : "arn:aws:sqs:\(region):\(account):\(text)"
    }

    private static func parseAsync(_ node: Node, path: String, function: FunctionConfiguration, problems: inout [String]) -> AsyncSettings? {
        guard let mapping = node.mapping else { return nil }
        var settings = AsyncSettings()
        let before = problems.count
        func destination(_ value: Node, _ field: String) -> String? {
            guard let text = value.string, value.scalar != nil else {
                problems.append("\(at(value)): \(field): must be a queue name or a destination ARN")
                return nil
            }
            let arn = destinationARN(text, function: function)
            if case .failure(let error) = Destination.parse(arn) {
                problems.append("\(at(value)): \(field): \(error.message)")
                return nil
            }
            return arn
        }
        if let dead = mapping["deadLetter"], let target = destination(dead, "\(path).deadLetter") {
            if case .failure(let error) = Destination.parseDeadLetter(target) {
                problems.append("\(at(dead)): \(path).deadLetter: \(error.message)")
            } else {
                settings.deadLetterTarget = target
            }
        }
        guard let async = mapping["async"] else { return problems.count == before ? settings : nil }
        guard let fields = async.mapping else {
            problems.append("\(at(async)): \(path).async: must be a mapping")
            return nil
        }
        for (key, _) in fields where !asyncFields.contains(key.string ?? "") {
            problems.append("\(at(key)): \(path).async.\(key.string ?? "?"): unknown field; expected one of \(asyncFields.sorted().joined(separator: ", "))")
        }
        var config = EventInvokeConfig()
        if let value = fields["maximumRetryAttempts"] {
            if let number = value.int { config.maximumRetryAttempts = number } else {
                problems.append("\(at(value)): \(path).async.maximumRetryAttempts: must be a whole number")
            }
        }
        if let value = fields["maximumEventAgeSeconds"] {
            if let number = value.int { config.maximumEventAgeSeconds = number } else {
                problems.append("\(at(value)): \(path).async.maximumEventAgeSeconds: must be a whole number")
            }
        }
        if let value = fields["retryDelays"] {
            let delays = value.sequence?.compactMap { $0.float ?? $0.int.map(Double.init) }
            if let delays, delays.count == value.sequence?.count { config.retryDelaysSeconds = delays } else {
                problems.append("\(at(value)): \(path).async.retryDelays: must be a list of seconds")
            }
        }
        if let value = fields["onSuccess"] { config.onSuccess = destination(value, "\(path).async.onSuccess") }
        if let value = fields["onFailure"] { config.onFailure = destination(value, "\(path).async.onFailure") }
        do { try config.validate() } catch {
            problems.append("\(at(async)): \(path).async: \(error.message)")
        }
        settings.invokeConfig = config
        return problems.count == before ? settings : nil
    }

    static let functionFields: Set<String> = [
        "name", "library", "handler", "isolation", "timeout", "initTimeout", "memory", "concurrency", "prewarm", "initConfig",
        "environment", "maxResponseBytes", "async", "deadLetter",
    ]

    private static func parseFunction(_ node: Node, path: String, baseDirectory: String, problems: inout [String]) -> FunctionConfiguration? {
        guard let mapping = node.mapping else {
            problems.append("\(at(node)): \(path) must be a mapping")
            return nil
        }
        let before = problems.count
        for (key, _) in mapping where !functionFields.contains(key.string ?? "") {
            problems.append("\(at(key)): \(path).\(key.string ?? "?"): unknown field; expected one of \(functionFields.sorted().joined(separator: ", "))")
        }
        func string(_ field: String, required: Bool = false) -> String? {
            guard let value = mapping[field] else {
                if required { problems.append("\(at(node)): \(path).\(field): missing") }
                return nil
            }
            guard let text = value.string, value.scalar != nil else {
                problems.append("\(at(value)): \(path).\(field): must be a string")
                return nil
            }
            return text
        }
        func number(_ field: String) -> Double? {
            guard let value = mapping[field] else { return nil }
            guard let number = value.float ?? value.int.map(Double.init) else {
                problems.append("\(at(value)): \(path).\(field): must be a number, got '\(value.string ?? "a collection")'")
                return nil
            }
            return number
        }
        func integer(_ field: String) -> Int? {
            guard let value = mapping[field] else { return nil }
            guard let number = value.int else {
                problems.append("\(at(value)): \(path).\(field): must be a whole number, got '\(value.string ?? "a collection")'")
                return nil
            }
            return number
        }
        let name = string("name", required: true) ?? ""
        var library = string("library", required: true) ?? ""
        if library.contains("/") && !library.hasPrefix("/") && !baseDirectory.isEmpty {
            library = (baseDirectory as NSString).appendingPathComponent(library)
        }
        var configuration = FunctionConfiguration(name: name, library: library)
        if let handler = string("handler") {
            do { configuration.handler = try HandlerReference.parse(handler) } catch {
                problems.append("\(at(mapping["handler"]!)): \(path).handler: \(error.message)")
            }
        }
        if let isolation = string("isolation") {
            if let value = Isolation(rawValue: isolation) { configuration.isolation = value } else {
                problems.append("\(at(mapping["isolation"]!)): \(path).isolation: must be 'process' or 'thread', got '\(isolation)'")
            }
        }
        if let timeout = number("timeout") { configuration.timeoutSeconds = timeout }
        if let timeout = number("initTimeout") { configuration.initTimeoutSeconds = timeout }
        if let memory = integer("memory") { configuration.memoryMB = memory }
        if let concurrency = integer("concurrency") { configuration.concurrency = concurrency }
        configuration.prewarmInstances = min(1, configuration.concurrency)
        if let prewarm = integer("prewarm") { configuration.prewarmInstances = prewarm }
        if configuration.isolation == .thread && mapping["prewarm"] == nil { configuration.prewarmInstances = 0 }
        if let bytes = integer("maxResponseBytes") { configuration.maxResponseBytes = bytes }
        if let initConfig = string("initConfig") { configuration.initConfig = Array(initConfig.utf8) }
        if let environment = mapping["environment"] {
            if let pairs = environment.mapping {
                for (key, value) in pairs {
                    guard let name = key.string, let text = value.string, value.scalar != nil else {
                        problems.append("\(at(value)): \(path).environment: values must be strings")
                        continue
                    }
                    configuration.environment[name] = text
                }
            } else {
                problems.append("\(at(environment)): \(path).environment: must be a mapping of names to strings")
            }
        }
        for (field, problem) in configuration.validationProblems() where problems.count == before || !problems.contains(where: { $0.contains("\(path).\(field):") }) {
            let node = mapping[field == "prewarm" ? "prewarm" : field == "memory" ? "memory" : field] ?? node
            problems.append("\(at(node)): \(path).\(field): \(problem)")
        }
        return problems.count == before ? configuration : nil
    }

    static func at(_ node: Node) -> String {
        node.mark.map { "line \($0.line)" } ?? "line ?"
    }
}

/// Everything wrong with a configuration file, one line per problem.
public struct ConfigurationFileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var problems: [String]

    public var description: String {
        "\(path): invalid configuration:\n" + problems.map { "  \(path): \($0)" }.joined(separator: "\n")
    }
}
