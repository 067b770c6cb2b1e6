import ChuteABI
import ChuteCore
import ChuteHost
import ChuteStore
import ChuteWorkers
import Crypto
import Foundation
import Logging

/// Creates, changes and deletes functions through the API: the code is unpacked safely into the
/// data directory, the definition and code are stored, and the function's pool is replaced.
/// Functions created this way come back after a restart; functions declared in the configuration
/// file are the file's, and API changes to them last until the host restarts.
///
/// Every change to a function goes through here, one at a time per function: a change claims the
/// name before its first await (`claim`), so two creates of one name cannot both pass the check,
/// and a change that arrives while another is in progress gets Lambda's
/// `ResourceConflictException` rather than interleaving with it. What a change stores and what
/// the registry then serves are the same definition, so a Get after the last answered change
/// shows what a restart brings back.
actor FunctionManager {
    let registry: FunctionRegistry
    let store: any FunctionDefinitionStore
    /// `DATA/functions`: one directory per function, one subdirectory per code version.
    let codeRoot: String
    let clock: @Sendable () -> Int64
    let logger: Logger
    /// Functions with a change in progress.
    private var changing: Set<String> = []
    /// Most functions the host serves (`server.maxFunctions`): each holds a process and descriptors.
    let maximumFunctions: Int

    init(registry: FunctionRegistry, store: any FunctionDefinitionStore, codeRoot: String, maximumFunctions: Int = .max,
         clock: @escaping @Sendable () -> Int64, logger: Logger) {
        self.maximumFunctions = maximumFunctions
        self.registry = registry
        self.store = store
        self.codeRoot = codeRoot
        self.clock = clock
        self.logger = logger
    }

    // MARK: One change at a time

    static func updateInProgress(_ arn: String) -> ServiceError {
        ServiceError(type: "ResourceConflictException",
                     message: "The operation cannot be performed at this time. An update is in progress for resource: \(arn)", statusCode: 409)
    }

    private static func notFound(_ name: String) -> ServiceError {
        ServiceError.resourceNotFound("Function not found: \(FunctionConfiguration(name: name, library: "").arn)")
    }

    /// Claims `name` for one change; synchronous, so no other change can pass in between.
    private func claim(_ name: String) throws(ServiceError) {
        guard changing.insert(name).inserted else {
            throw Self.updateInProgress(FunctionConfiguration(name: name, library: "").arn)
        }
    }

    /// Runs `change` on the function's current entry with the function claimed.
    private func exclusively<T: Sendable>(_ name: String, _ change: (FunctionRegistry.Entry) async throws -> T) async throws -> T {
        guard let entry = registry.entry(named: name) else { throw Self.notFound(name) }
        try claim(name)
        defer { changing.remove(name) }
        return try await change(entry)
    }

    // MARK: Changes

    func create(name: String, definition: FunctionDefinition, zip: Data) async throws -> FunctionRegistry.Entry {
        if let problem = FunctionLimits.nameProblem(name) {
            throw ServiceError.validation(["Value '\(name)' at 'functionName' failed to satisfy constraint: \(problem)"])
        }
        guard registry.entry(named: name) == nil else {
            throw ServiceError(type: "ResourceConflictException", message: "Function already exist: \(name)", statusCode: 409)
        }
        // Functions being created count too: concurrent creates cannot pass the limit together.
        guard registry.all.count + changing.filter({ registry.entry(named: $0) == nil }).count < maximumFunctions else {
            throw ServiceError(type: "CodeStorageExceededException",
                               message: "This host serves at most \(maximumFunctions) functions (server.maxFunctions in the configuration file)")
        }
        try claim(name)
        defer { changing.remove(name) }
        var definition = definition
        try definition.validate()
        do {
            let directory = try unpack(zip, for: name, into: &definition)
            let configuration = try definition.configuration(name: name, codeDirectory: directory)
            return try await replace(configuration, definition: definition, code: Array(zip))
        } catch {
            // Nothing of a function that was not created stays behind.
            try? FileManager.default.removeItem(atPath: codeRoot + "/" + name)
            throw error
        }
    }

    func updateConfiguration(_ name: String, _ change: @Sendable (inout FunctionDefinition) -> Void) async throws -> FunctionRegistry.Entry {
        try await exclusively(name) { entry in
            guard var definition = entry.definition else {
                // Declared in the configuration file: change what the file declared, until restart.
                var probe = Self.definition(of: entry)
                let before = probe
                change(&probe)
                guard probe.handler == before.handler else {
                    throw ServiceError.invalidParameter("\(name) is declared in the configuration file; change its handler there")
                }
                try probe.validate()
                var configuration = entry.configuration
                configuration.timeoutSeconds = Double(probe.timeoutSeconds)
                configuration.memoryMB = probe.memoryMB
                configuration.environment = probe.environment
                let settings = ConfigurationFile.AsyncSettings(invokeConfig: entry.asyncSettings.invokeConfig, deadLetterTarget: probe.deadLetterTarget)
                try await registry.add(configuration, asyncSettings: settings, reservedConcurrency: entry.reservedConcurrency, now: clock())
                return try registered(name)
            }
            change(&definition)
            try definition.validate()
            let configuration = try definition.configuration(name: name, codeDirectory: codeDirectory(name, definition))
            return try await replace(configuration, definition: definition, code: nil)
        }
    }

    func updateCode(_ name: String, zip: Data) async throws -> FunctionRegistry.Entry {
        try await exclusively(name) { entry in
            guard var definition = entry.definition else {
                throw ServiceError.invalidParameter("\(name) is declared in the configuration file; its code is the library the file names")
            }
            let current = codeDirectory(name, definition)
            let directory = try unpack(zip, for: name, into: &definition)
            do {
                let configuration = try definition.configuration(name: name, codeDirectory: directory)
                let updated = try await replace(configuration, definition: definition, code: Array(zip))
                if current != directory { try? FileManager.default.removeItem(atPath: current) }
                return updated
            } catch {
                if current != directory { try? FileManager.default.removeItem(atPath: directory) }
                throw error
            }
        }
    }

    func delete(_ name: String) async throws {
        try await exclusively(name) { entry in
            if entry.definition != nil {
                try await store.deleteFunction(named: name)
                try? FileManager.default.removeItem(atPath: codeRoot + "/" + name)
            }
            await registry.remove(name)
        }
    }

    /// PutFunctionConcurrency (a value) and DeleteFunctionConcurrency (nil).
    func setReservedConcurrency(_ name: String, _ value: Int?) async throws -> FunctionRegistry.Entry {
        try await exclusively(name) { entry in
            if let value, value > entry.configuration.concurrency {
                throw ServiceError.invalidParameter(
                    "Specified ReservedConcurrentExecutions for function exceeds its configured concurrency of \(entry.configuration.concurrency).")
            }
            try await save(entry, invokeConfig: entry.asyncSettings.invokeConfig, reservedConcurrency: value)
            guard let updated = registry.setReservedConcurrency(name, value) else { throw Self.notFound(name) }
            return updated
        }
    }

    /// Put, Update and DeleteFunctionEventInvokeConfig: `change` gets the current config and
    /// returns the new one (or throws why it is refused).
    func changeInvokeConfig(_ name: String, _ change: @Sendable (EventInvokeConfig) throws -> EventInvokeConfig) async throws
        -> FunctionRegistry.Entry {
        try await exclusively(name) { entry in
            let config = try change(entry.asyncSettings.invokeConfig)
            try await save(entry, invokeConfig: config, reservedConcurrency: entry.reservedConcurrency)
            guard let updated = registry.updateAsyncSettings(name, { $0.invokeConfig = config }, now: clock()) else { throw Self.notFound(name) }
            return updated
        }
    }

    /// Stores what the API changed on a created function before the registry serves it; a
    /// function the file declares keeps API changes in memory only.
    private func save(_ entry: FunctionRegistry.Entry, invokeConfig: EventInvokeConfig, reservedConcurrency: Int?) async throws {
        guard var definition = entry.definition else { return }
        definition.invokeConfig = invokeConfig
        definition.deadLetterTarget = entry.asyncSettings.deadLetterTarget
        definition.reservedConcurrency = reservedConcurrency
        try await store.saveFunction(name: entry.configuration.name, definition: try Self.encode(definition), code: nil, now: clock())
        registry.setDefinition(entry.configuration.name, definition)
    }

    /// Starts the functions stored by earlier runs, except those the configuration file declares.
    /// A function that cannot start any more is logged and left stored, not dropped.
    func restore(declared: Set<String>) async throws {
        for stored in try await store.storedFunctions() {
            guard !declared.contains(stored.name) else {
                logger.notice("the configuration file declares \(stored.name); the version created through the API is not started",
                              metadata: ["function": "\(stored.name)"])
                continue
            }
            await start(stored)
        }
    }

    /// Follows what other hosts sharing the store did through the API: starts the functions they
    /// created, restarts those whose configuration or code they changed (the definition carries
    /// the code's hash), removes those they deleted.
    func refresh(declared: Set<String>) async throws {
        // Definitions only: code is fetched for the functions that need starting, which is rare.
        let stored = try await store.storedFunctions(withCode: false)
        let storedNames = Set(stored.map(\.name))
        var toStart: Set<String> = []
        for function in stored where !declared.contains(function.name) && !changing.contains(function.name) {
            guard let entry = registry.entry(named: function.name) else {
                logger.info("starting \(function.name), created on another host", metadata: ["function": "\(function.name)"])
                toStart.insert(function.name)
                continue
            }
            guard entry.definition != nil,
                  let definition = try? JSONDecoder().decode(FunctionDefinition.self, from: Data(function.definition.utf8)),
                  definition != entry.definition else { continue }
            logger.info("restarting \(function.name), changed on another host", metadata: ["function": "\(function.name)"])
            toStart.insert(function.name)
        }
        // Each function is claimed like any change, so a local change in progress is never overwritten.
        if !toStart.isEmpty {
            for function in try await store.storedFunctions(withCode: true) where toStart.contains(function.name) {
                guard changing.insert(function.name).inserted else { continue }
                await start(function)
                changing.remove(function.name)
            }
        }
        for entry in registry.all where entry.definition != nil && !storedNames.contains(entry.configuration.name) {
            let name = entry.configuration.name
            guard changing.insert(name).inserted else { continue }
            logger.info("removing \(name), deleted on another host", metadata: ["function": "\(name)"])
            await registry.remove(name)
            changing.remove(name)
        }
    }

    private func start(_ stored: StoredFunction) async {
        do {
            let definition = try JSONDecoder().decode(FunctionDefinition.self, from: Data(stored.definition.utf8))
            let directory = codeDirectory(stored.name, definition)
            if !FileManager.default.fileExists(atPath: directory) {
                try Self.unpackAtomically(Data(stored.code), into: directory)
            }
            let configuration = try definition.configuration(name: stored.name, codeDirectory: directory)
            _ = try await start(configuration, definition: definition, now: stored.modifiedAtMilliseconds)
        } catch {
            logger.error("cannot start the stored function \(stored.name): \(error)", metadata: ["function": "\(stored.name)"])
        }
    }

    // MARK: Parts

    /// Starts the function's new pool (loading its library) before anything is stored, then
    /// stores the definition and serves it: a library that cannot load leaves the store, the
    /// registry and the running version as they were, and is answered with the loader's reason.
    private func replace(_ configuration: FunctionConfiguration, definition: FunctionDefinition, code: [UInt8]?) async throws
        -> FunctionRegistry.Entry {
        let pool: any FunctionPool
        do {
            pool = try await registry.startPool(configuration)
        } catch let error as HandlerLoadError {
            throw ServiceError.invalidParameter("The function's library cannot be loaded: \(error.message)")
        } catch let error as PoolError {
            throw ServiceError.invalidParameter("The function cannot start: \(error.message)")
        }
        let now = clock()
        do {
            try await store.saveFunction(name: configuration.name, definition: try Self.encode(definition), code: code, now: now)
        } catch {
            await pool.shutdown()
            throw error
        }
        let settings = ConfigurationFile.AsyncSettings(invokeConfig: definition.invokeConfig, deadLetterTarget: definition.deadLetterTarget)
        await registry.install(configuration, pool: pool, asyncSettings: settings, definition: definition,
                               reservedConcurrency: definition.reservedConcurrency, now: now)
        return try registered(configuration.name)
    }

    private func start(_ configuration: FunctionConfiguration, definition: FunctionDefinition, now: Int64) async throws -> FunctionRegistry.Entry {
        let settings = ConfigurationFile.AsyncSettings(invokeConfig: definition.invokeConfig, deadLetterTarget: definition.deadLetterTarget)
        try await registry.add(configuration, asyncSettings: settings, definition: definition,
                               reservedConcurrency: definition.reservedConcurrency, now: now)
        return try registered(configuration.name)
    }

    private func registered(_ name: String) throws -> FunctionRegistry.Entry {
        guard let entry = registry.entry(named: name) else { throw ServiceError.resourceNotFound("Function not found: \(name)") }
        return entry
    }

    /// Unpacks the zip into the directory of its digest and records the digest and size.
    private func unpack(_ zip: Data, for name: String, into definition: inout FunctionDefinition) throws -> String {
        let digest = SHA256.hash(data: zip)
        definition.codeSha256 = Data(digest).base64EncodedString()
        definition.codeSize = zip.count
        let directory = codeDirectory(name, definition)
        guard !FileManager.default.fileExists(atPath: directory) else { return directory }
        do {
            try Self.unpackAtomically(zip, into: directory)
        } catch let error as CodeArchiveError {
            throw ServiceError.invalidParameter(error.description)
        }
        return directory
    }

    /// Unpacks beside the target, then renames: a crash never leaves a half-unpacked version.
    private static func unpackAtomically(_ zip: Data, into directory: String) throws {
        let staging = directory + ".partial-\(RequestID.make())"
        try CodeArchive.unpack(zip, into: staging)
        do {
            try FileManager.default.moveItem(atPath: staging, toPath: directory)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            guard FileManager.default.fileExists(atPath: directory) else { throw error }
        }
    }

    private func codeDirectory(_ name: String, _ definition: FunctionDefinition) -> String {
        let hex = Data(base64Encoded: definition.codeSha256).map { $0.prefix(8).map { String(format: "%02x", $0) }.joined() } ?? "code"
        return "\(codeRoot)/\(name)/\(hex)"
    }

    private static func encode(_ definition: FunctionDefinition) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(definition), as: UTF8.self)
    }

    /// A file-declared function seen as a definition, to apply API changes to it.
    static func definition(of entry: FunctionRegistry.Entry) -> FunctionDefinition {
        let configuration = entry.configuration
        return FunctionDefinition(
            handler: configuration.handler.description, runtime: "provided.al2023", role: "", description: "",
            timeoutSeconds: Int(configuration.timeoutSeconds.rounded(.up)), memoryMB: configuration.memoryMB,
            environment: configuration.environment, deadLetterTarget: entry.asyncSettings.deadLetterTarget,
            invokeConfig: entry.asyncSettings.invokeConfig, reservedConcurrency: entry.reservedConcurrency, codeSha256: "", codeSize: 0)
    }
}
