import ChuteCore
import ChuteStore
import Crypto

/// Appends records to a built-in stream: each record's shard is picked by the MD5 of its
/// partition key (or its explicit hash key), as Kinesis does. Shared by the Kinesis API and
/// `chute streams put`.
public struct StreamWriter: Sendable {
    let store: any StreamStore

    public init(store: any StreamStore) { self.store = store }

    public struct Entry: Sendable {
        public var partitionKey: String
        public var explicitHashKey: String?
        public var data: [UInt8]

        public init(partitionKey: String, explicitHashKey: String? = nil, data: [UInt8]) {
            self.partitionKey = partitionKey
            self.explicitHashKey = explicitHashKey
            self.data = data
        }
    }

    /// Kinesis's limits: 1 MB of data per record, partition keys of 1-256 characters, 500 records per call.
    public static let maximumDataBytes = 1_048_576
    public static let maximumRecordsPerCall = 500

    /// Checks one entry; the error names what is wrong, in Kinesis's terms.
    public static func validate(_ entry: Entry) throws(ServiceError) -> UInt128 {
        guard (1...256).contains(entry.partitionKey.count) else {
            throw ServiceError(type: "ValidationException",
                               message: "1 validation error detected: Value '\(entry.partitionKey)' at 'partitionKey' failed to satisfy constraint: Member must have length between 1 and 256")
        }
        guard entry.data.count <= maximumDataBytes else {
            throw ServiceError(type: "ValidationException",
                               message: "1 validation error detected: Value at 'data' failed to satisfy constraint: Member must have length less than or equal to \(maximumDataBytes)")
        }
        if let explicit = entry.explicitHashKey {
            guard let key = ShardMap.hashKey(decimal: explicit) else {
                throw ServiceError(type: "InvalidArgumentException",
                                   message: "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was \(explicit)")
            }
            return key
        }
        return ShardMap.hashKey(digest: Insecure.MD5.hash(data: Array(entry.partitionKey.utf8)))
    }

    /// Appends the entries in one transaction; returns them stored, in order.
    public func put(_ entries: [Entry], to stream: String, now: Int64) async throws -> [StreamRecord] {
        var stored: [StreamEntry] = []
        for entry in entries {
            stored.append(StreamEntry(partitionKey: entry.partitionKey, hashKey: try Self.validate(entry), data: entry.data))
        }
        return try await store.putRecords(stored, to: stream, now: now)
    }
}
