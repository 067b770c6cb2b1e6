import ChuteAsync
import ChuteCore
import ChuteHost
import ChuteStore
import Crypto
import Foundation
import Logging
import Synchronization

/// The host's event source mappings: validated as Lambda validates them, saved to the store,
/// and run by the supervisor. Changes run one at a time.
public final class MappingRegistry: Sendable {
    let store: any HostStore
    let functions: FunctionRegistry
    let supervisor: MappingSupervisor
    let clock: @Sendable () -> Int64
    let region: String
    let account: String
    private let mappings = Mutex<[String: EventSourceMapping]>([:])
    /// Stored mappings the current code refuses (a timestamp no clock can reach, a batch size past
    /// the limit), by UUID, with why: kept and shown, never run, until updated or deleted.
    private let refused = Mutex<[String: String]>([:])
    private let changes = SerialChanges()

    init(store: any HostStore, functions: FunctionRegistry, supervisor: MappingSupervisor, clock: @escaping @Sendable () -> Int64,
         region: String = FunctionConfiguration.defaultRegion, account: String = FunctionConfiguration.defaultAccountID) {
        self.store = store
        self.functions = functions
        self.supervisor = supervisor
        self.clock = clock
        self.region = region
        self.account = account
    }

    /// Runs what the store kept. A mapping stored by an older version that this one would refuse
    /// is logged and kept as failed (shown by Get and List, never run), so that it cannot take the
    /// host down at every start.
    func restore(logger: Logger) async throws {
        for mapping in try await store.storedMappings() {
            mappings.withLock { $0[mapping.uuid] = mapping }
            await run(mapping, logger: logger)
        }
    }

    /// Why a stored mapping is not run, nil when it is fine.
    func refusal(_ uuid: String) -> String? { refused.withLock { $0[uuid] } }

    private func run(_ mapping: EventSourceMapping, logger: Logger) async {
        do {
            try mapping.settings.validate()
            try Self.checkSupported(mapping.settings)
            refused.withLock { $0[mapping.uuid] = nil }
            await supervisor.apply(mapping)
        } catch {
            let reason = (error as? ServiceError)?.message ?? "\(error)"
            refused.withLock { $0[mapping.uuid] = reason }
            await supervisor.stop(mapping.uuid)
            logger.error("the stored event source mapping \(mapping.uuid) is invalid and does not run: \(reason); update or delete it",
                         metadata: ["mapping": "\(mapping.uuid)"])
        }
    }

    /// Takes up what other hosts sharing the store did through the API: mappings they created,
    /// changed, disabled or deleted start, restart or stop here too.
    func refresh(logger: Logger) async throws {
        try await changes.run { [self] in
            let stored = try await store.storedMappings()
            let known = mappings.withLock { $0 }
            for mapping in stored where known[mapping.uuid] != mapping {
                mappings.withLock { $0[mapping.uuid] = mapping }
                await run(mapping, logger: logger)
            }
            let storedIDs = Set(stored.map(\.uuid))
            for uuid in known.keys where !storedIDs.contains(uuid) {
                await supervisor.stop(uuid)
                mappings.withLock { $0[uuid] = nil }
            }
        }
    }

    /// Creates the mappings the configuration file declares, or updates them to match it; each
    /// keeps a UUID made from its function and source, so its checkpoints survive restarts.
    func declare(_ declarations: [ConfigurationFile.MappingDeclaration]) async throws {
        for declaration in declarations {
            let uuid = Self.declaredUUID(functionName: declaration.functionName, eventSourceARN: declaration.eventSourceARN)
            if let existing = mapping(uuid) {
                guard existing.settings != declaration.settings else { continue }
                _ = try await update(uuid, functionName: nil) { $0 = declaration.settings }
            } else {
                _ = try await create(functionName: declaration.functionName, eventSourceARN: declaration.eventSourceARN,
                                     settings: declaration.settings, uuid: uuid)
            }
        }
    }

    var all: [EventSourceMapping] { mappings.withLock { $0.values.sorted { $0.uuid < $1.uuid } } }

    func mapping(_ uuid: String) -> EventSourceMapping? { mappings.withLock { $0[uuid] } }

    /// Creates a mapping; `uuid` nil draws one (the configuration file names its own, stable ones).
    func create(functionName: String, eventSourceARN: String, settings: EventSourceMappingSettings, uuid: String? = nil) async throws
        -> EventSourceMapping {
        try await changes.run { [self] in
            let name = try functionNameOnly(functionName)
            guard let source = EventSource(arn: eventSourceARN) else {
                throw ServiceError.invalidParameter(
                    "Unsupported event source \(eventSourceARN): a Kinesis stream (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME) or an SQS queue (arn:aws:sqs:REGION:ACCOUNT:NAME)")
            }
            var settings = settings
            settings.source = source.kind
            try settings.validate()
            try Self.checkSupported(settings)
            if let existing = all.first(where: { $0.eventSourceARN == eventSourceARN && $0.functionName == name }) {
                throw ServiceError(type: "ResourceConflictException", message: """
                    The event source arn (" \(eventSourceARN) ") and function (" \(name) ") provided mapping already exists. \
                    Please update or delete the existing mapping with UUID \(existing.uuid)
                    """, statusCode: 409)
            }
            try await checkSourceExists(source, arn: eventSourceARN)
            let mapping = EventSourceMapping(uuid: uuid ?? UUID().uuidString.lowercased(), functionName: name, eventSourceARN: eventSourceARN,
                                             settings: settings, lastModifiedMilliseconds: clock())
            if case .stream(let stream) = source, settings.startingPosition == .latest {
                // LATEST is where the stream ends now, not when a host first takes each shard.
                let shardCount = try await store.stream(stream)?.shardCount ?? 0
                for shard in 0..<shardCount {
                    let last = try await store.lastSequence(in: stream, shard: shard)
                    try await store.moveCheckpoint(mapping: mapping.uuid, shard: ShardMap.shardID(shard), to: last)
                }
            }
            try await store.saveMapping(mapping)
            mappings.withLock { $0[mapping.uuid] = mapping }
            await supervisor.apply(mapping)
            return mapping
        }
    }

    /// Applies `change` to the mapping's settings (and function), validates, saves and restarts it.
    func update(_ uuid: String, functionName: String?, _ change: @escaping @Sendable (inout EventSourceMappingSettings) -> Void) async throws
        -> EventSourceMapping {
        try await changes.run { [self] in
            guard var mapping = mapping(uuid) else { throw Self.notFound }
            change(&mapping.settings)
            try mapping.settings.validate()
            try Self.checkSupported(mapping.settings)
            if let functionName { mapping.functionName = try functionNameOnly(functionName) }
            mapping.lastModifiedMilliseconds = clock()
            try await store.saveMapping(mapping)
            mappings.withLock { $0[uuid] = mapping }
            refused.withLock { $0[uuid] = nil }
            await supervisor.apply(mapping)
            return mapping
        }
    }

    func delete(_ uuid: String) async throws -> EventSourceMapping {
        try await changes.run { [self] in
            guard let mapping = mapping(uuid) else { throw Self.notFound }
            await supervisor.stop(uuid)
            try await store.deleteMapping(uuid: uuid)
            try await store.deleteShardLeases(mapping: uuid)
            mappings.withLock { $0[uuid] = nil }
            refused.withLock { $0[uuid] = nil }
            return mapping
        }
    }

    /// Tumbling windows keep one state per shard, so they run with one batch per shard at a time.
    static func checkSupported(_ settings: EventSourceMappingSettings) throws {
        if settings.tumblingWindowSeconds > 0, settings.parallelizationFactor > 1 {
            throw ServiceError.invalidParameter(
                "TumblingWindowInSeconds needs ParallelizationFactor 1: a window's state is carried from batch to batch of its shard")
        }
    }

    static let notFound = ServiceError(type: "ResourceNotFoundException", message: "The resource you requested does not exist.", statusCode: 404)

    /// A stable UUID for a mapping the configuration file declares, so it keeps its checkpoints
    /// across restarts: MD5 of the function and the source, shaped as a version 3 UUID.
    static func declaredUUID(functionName: String, eventSourceARN: String) -> String {
        var bytes = Array(Insecure.MD5.hash(data: Array("\(functionName)|\(eventSourceARN)".utf8)))
        bytes[6] = (bytes[6] & 0x0f) | 0x30
        bytes[8] = (bytes[8] & 0x3f) | 0x80
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
            String(hex[hex.index(hex.startIndex, offsetBy: range.lowerBound)..<hex.index(hex.startIndex, offsetBy: range.upperBound)])
        }
        return parts.joined(separator: "-")
    }

    private func functionNameOnly(_ text: String) throws -> String {
        guard let (name, qualifier) = FunctionRegistry.parseFunctionName(text), qualifier == nil || qualifier == "$LATEST" else {
            throw ServiceError.invalidParameter("FunctionName \(text) is not a function name or unqualified ARN")
        }
        guard functions.entry(named: name) != nil else {
            throw ServiceError.resourceNotFound("Function not found: arn:aws:lambda:\(region):\(account):function:\(name)")
        }
        return name
    }

    private func checkSourceExists(_ source: EventSource, arn: String) async throws {
        switch source {
        case .stream(let name):
            if try await store.stream(name) == nil { throw ServiceError.invalidParameter("Stream not found: \(arn)") }
        case .queue(let name):
            if try await store.queueSettings(name) == nil { throw ServiceError.invalidParameter("Queue not found: \(arn)") }
        }
    }
}
