/// Functions created through the Lambda API, kept with their code so they come back after a
/// restart, and so several hosts sharing a PostgreSQL store can all run them. The definition is
/// opaque JSON to the store; the code is the zip as uploaded.
public protocol FunctionDefinitionStore: Sendable {
    /// Saves a function's definition, with its code when `code` is given (nil keeps the stored code).
    func saveFunction(name: String, definition: String, code: [UInt8]?, now: Int64) async throws
    /// Every stored function; `withCode: false` leaves each `code` empty (hosts sharing a store
    /// compare definitions every few seconds, and fetch code only for what changed).
    func storedFunctions(withCode: Bool) async throws -> [StoredFunction]
    func deleteFunction(named name: String) async throws
}

extension FunctionDefinitionStore {
    public func storedFunctions() async throws -> [StoredFunction] {
        try await storedFunctions(withCode: true)
    }
}

/// What a host serves from: events, queues, function definitions, topics and buses, the HTTP
/// outbox, streams, event source mappings and their shard leases in one store.
public typealias HostStore = AsyncEventStore & FunctionDefinitionStore & HTTPOutboxStore & MessagingDefinitionStore & StreamStore
    & ShardLeaseStore & MappingDefinitionStore

public struct StoredFunction: Sendable, Hashable {
    public var name: String
    public var definition: String
    public var code: [UInt8]
    public var modifiedAtMilliseconds: Int64

    public init(name: String, definition: String, code: [UInt8], modifiedAtMilliseconds: Int64) {
        self.name = name
        self.definition = definition
        self.code = code
        self.modifiedAtMilliseconds = modifiedAtMilliseconds
    }
}
