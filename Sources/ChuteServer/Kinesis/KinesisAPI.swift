import ChuteCore
import ChuteStore
import Foundation
import Hummingbird
import NIOCore

/// Built-in streams over Kinesis's JSON 1.1 protocol (`X-Amz-Target: Kinesis_20131202.*`), for the
/// aws CLI and boto3: streams, shards, PutRecord(s), shard iterators and GetRecords. Streams are
/// provisioned (a fixed shard count; no resharding), records are not encrypted.
struct KinesisAPI: Sendable {
    let store: any StreamStore
    let region: String
    let accountID: String
    let clock: @Sendable () -> Int64
    /// Told the stream's name after records were put (wakes the mappings reading it).
    var recordsPut: @Sendable (String) -> Void = { _ in }
    static let namespace = "com.amazonaws.kinesis"
    static let maximumShards = 256
    /// GetRecords answers with at most 10 MB of records, as Kinesis does.
    static let maximumGetRecordsBytes = 10 * 1_048_576

    static let json = JSONProtocol(
        namespace: namespace, contentType: "application/x-amz-json-1.1", internalErrorType: "InternalFailure",
        bodyLimit: 6 * StreamWriter.maximumDataBytes,
        tooLarge: ServiceError(type: "ValidationException", message: "The request is larger than \(6 * StreamWriter.maximumDataBytes) bytes"))

    func handle(_ request: Request, operation: Substring) async -> Response {
        await Self.json.respond(to: request) { fields in
            switch operation {
            case "CreateStream": return try await createStream(fields)
            case "DeleteStream": return try await deleteStream(fields)
            case "ListStreams": return try await listStreams(fields)
            case "DescribeStream": return try await describeStream(fields)
            case "DescribeStreamSummary": return try await describeStreamSummary(fields)
            case "ListShards": return try await listShards(fields)
            case "PutRecord": return try await putRecord(fields)
            case "PutRecords": return try await putRecords(fields)
            case "GetShardIterator": return try await getShardIterator(fields)
            case "GetRecords": return try await getRecords(fields)
            default:
                throw ServiceError(type: "UnknownOperationException", message: "The operation \(operation) is not supported by Chute's Kinesis API.")
            }
        }
    }

    // MARK: Parameters

    func streamARN(_ name: String) -> String { "arn:aws:kinesis:\(region):\(accountID):stream/\(name)" }

    /// The stream a request names by `StreamName` or `StreamARN`.
    private func streamName(_ fields: [String: Any]) throws(ServiceError) -> String {
        if let name = fields["StreamName"] as? String, !name.isEmpty { return name }
        if let arn = fields["StreamARN"] as? String, let range = arn.range(of: ":stream/") { return String(arn[range.upperBound...]) }
        throw ServiceError(type: "ValidationException", message: "Either StreamName or StreamARN should be provided.")
    }

    private func existingStream(_ fields: [String: Any]) async throws -> StreamDescription {
        let name = try streamName(fields)
        guard let stream = try await store.stream(name) else { throw notFound(name) }
        return stream
    }

    private func notFound(_ name: String) -> ServiceError {
        ServiceError(type: "ResourceNotFoundException", message: "Stream \(name) under account \(accountID) not found.")
    }

    private static func seconds(_ milliseconds: Int64) -> Double { Double(milliseconds) / 1000 }

    // MARK: Streams

    private func createStream(_ fields: [String: Any]) async throws -> [String: Any] {
        let name = try streamName(fields)
        guard (1...128).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }) else {
            throw ServiceError(type: "ValidationException",
                               message: "1 validation error detected: Value '\(name)' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
        }
        let shards = fields["ShardCount"] as? Int ?? 4  // on-demand streams start with 4 shards
        guard (1...Self.maximumShards).contains(shards) else {
            throw ServiceError(type: "ValidationException",
                               message: "1 validation error detected: Value '\(shards)' at 'shardCount' failed to satisfy constraint: Member must have value between 1 and \(Self.maximumShards)")
        }
        guard try await store.createStream(name, shardCount: shards, retentionHours: 24, now: clock()) != nil else {
            throw ServiceError(type: "ResourceInUseException", message: "Stream \(name) under account \(accountID) already exists.")
        }
        return [:]
    }

    private func deleteStream(_ fields: [String: Any]) async throws -> [String: Any] {
        let name = try streamName(fields)
        guard try await store.deleteStream(name) else { throw notFound(name) }
        return [:]
    }

    private func summary(_ stream: StreamDescription) -> [String: Any] {
        ["StreamName": stream.name, "StreamARN": streamARN(stream.name), "StreamStatus": "ACTIVE",
         "StreamModeDetails": ["StreamMode": "PROVISIONED"], "StreamCreationTimestamp": Self.seconds(stream.createdAtMilliseconds)]
    }

    private func listStreams(_ fields: [String: Any]) async throws -> [String: Any] {
        let after = fields["ExclusiveStartStreamName"] as? String ?? ""
        let limit = fields["Limit"] as? Int ?? 100
        let streams = try await store.streamDescriptions().filter { $0.name > after }
        let page = Array(streams.prefix(limit))
        return ["StreamNames": page.map(\.name), "StreamSummaries": page.map(summary), "HasMoreStreams": streams.count > page.count]
    }

    private func shards(_ stream: StreamDescription) async throws -> [[String: Any]] {
        let map = stream.shardMap
        return (0..<stream.shardCount).map { index in
            ["ShardId": ShardMap.shardID(index),
             "HashKeyRange": ["StartingHashKey": String(map.startingHashKey(index)), "EndingHashKey": String(map.endingHashKey(index))],
             "SequenceNumberRange": ["StartingSequenceNumber": StreamRecord.sequenceNumber(0)]]
        }
    }

    private func describeStream(_ fields: [String: Any]) async throws -> [String: Any] {
        let stream = try await existingStream(fields)
        var description = summary(stream)
        description["Shards"] = try await shards(stream)
        description["HasMoreShards"] = false
        description["RetentionPeriodHours"] = stream.retentionHours
        description["EnhancedMonitoring"] = [["ShardLevelMetrics": [String]()]]
        description["EncryptionType"] = "NONE"
        return ["StreamDescription": description]
    }

    private func describeStreamSummary(_ fields: [String: Any]) async throws -> [String: Any] {
        let stream = try await existingStream(fields)
        var description = summary(stream)
        description["RetentionPeriodHours"] = stream.retentionHours
        description["EnhancedMonitoring"] = [["ShardLevelMetrics": [String]()]]
        description["EncryptionType"] = "NONE"
        description["OpenShardCount"] = stream.shardCount
        description["ConsumerCount"] = 0
        return ["StreamDescriptionSummary": description]
    }

    private func listShards(_ fields: [String: Any]) async throws -> [String: Any] {
        ["Shards": try await shards(try await existingStream(fields))]
    }

    // MARK: Records

    private static func entry(_ fields: [String: Any]) throws(ServiceError) -> StreamWriter.Entry {
        guard let key = fields["PartitionKey"] as? String else {
            throw ServiceError(type: "ValidationException", message: "1 validation error detected: Value null at 'partitionKey' failed to satisfy constraint: Member must not be null")
        }
        guard let text = fields["Data"] as? String, let data = Data(base64Encoded: text) else {
            throw ServiceError(type: "ValidationException", message: "1 validation error detected: Value at 'data' failed to satisfy constraint: Member must be base64-encoded bytes")
        }
        return StreamWriter.Entry(partitionKey: key, explicitHashKey: fields["ExplicitHashKey"] as? String, data: Array(data))
    }

    private func put(_ entries: [StreamWriter.Entry], _ name: String) async throws -> [StreamRecord] {
        guard try await store.stream(name) != nil else { throw notFound(name) }
        let records = try await StreamWriter(store: store).put(entries, to: name, now: clock())
        recordsPut(name)
        return records
    }

    private func putRecord(_ fields: [String: Any]) async throws -> [String: Any] {
        let record = try await put([try Self.entry(fields)], try streamName(fields))[0]
        return ["ShardId": record.shardID, "SequenceNumber": record.sequenceNumber, "EncryptionType": "NONE"]
    }

    private func putRecords(_ fields: [String: Any]) async throws -> [String: Any] {
        guard let items = fields["Records"] as? [[String: Any]], !items.isEmpty else {
            throw ServiceError(type: "ValidationException", message: "1 validation error detected: Value null at 'records' failed to satisfy constraint: Member must not be null")
        }
        guard items.count <= StreamWriter.maximumRecordsPerCall else {
            throw ServiceError(type: "ValidationException",
                               message: "1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length less than or equal to \(StreamWriter.maximumRecordsPerCall)")
        }
        let entries = try items.map { item throws(ServiceError) in try Self.entry(item) }
        let records = try await put(entries, try streamName(fields))
        return ["FailedRecordCount": 0, "EncryptionType": "NONE",
                "Records": records.map { ["ShardId": $0.shardID, "SequenceNumber": $0.sequenceNumber] }]
    }

    // MARK: Reading

    /// A shard iterator: where the next GetRecords reads, as opaque base64 text.
    struct Iterator {
        var stream: String
        var shard: Int
        var position: StreamPosition

        var token: String {
            let where_: String = switch position {
            case .trimHorizon: "trim"
            case .atSequence(let sequence): "at/\(sequence)"
            case .afterSequence(let sequence): "after/\(sequence)"
            case .atTimestamp(let time): "time/\(time)"
            }
            return Data("v1/\(shard)/\(where_)/\(stream)".utf8).base64EncodedString()
        }

        init(stream: String, shard: Int, position: StreamPosition) {
            self.stream = stream
            self.shard = shard
            self.position = position
        }

        init?(token: String) {
            guard let data = Data(base64Encoded: token) else { return nil }
            let parts = String(decoding: data, as: UTF8.self).split(separator: "/", maxSplits: 4, omittingEmptySubsequences: false)
            guard parts.count >= 4, parts[0] == "v1", let shard = Int(parts[1]) else { return nil }
            switch parts[2] {
            case "trim" where parts.count == 4: position = .trimHorizon
            case "at" where parts.count == 5: guard let value = UInt64(parts[3]) else { return nil }; position = .atSequence(value)
            case "after" where parts.count == 5: guard let value = UInt64(parts[3]) else { return nil }; position = .afterSequence(value)
            case "time" where parts.count == 5: guard let value = Int64(parts[3]) else { return nil }; position = .atTimestamp(value)
            default: return nil
            }
            self.shard = shard
            stream = String(parts.last!)
        }
    }

    private func getShardIterator(_ fields: [String: Any]) async throws -> [String: Any] {
        let stream = try await existingStream(fields)
        let shardID = fields["ShardId"] as? String ?? ""
        guard let shard = ShardMap.shardIndex(shardID), shard < stream.shardCount else {
            throw ServiceError(type: "ResourceNotFoundException", message: "Shard \(shardID) in stream \(stream.name) under account \(accountID) does not exist")
        }
        let type = fields["ShardIteratorType"] as? String ?? ""
        func sequence() throws(ServiceError) -> UInt64 {
            guard let text = fields["StartingSequenceNumber"] as? String, let sequence = StreamRecord.sequence(text) else {
                throw ServiceError(type: "InvalidArgumentException", message: "StartingSequenceNumber is required and must be a sequence number for \(type)")
            }
            return sequence
        }
        let position: StreamPosition
        switch type {
        case "TRIM_HORIZON": position = .trimHorizon
        case "LATEST": position = .afterSequence(try await store.lastSequence(in: stream.name, shard: shard))
        case "AT_SEQUENCE_NUMBER": position = .atSequence(try sequence())
        case "AFTER_SEQUENCE_NUMBER": position = .afterSequence(try sequence())
        case "AT_TIMESTAMP":
            guard let seconds = fields["Timestamp"] as? Double ?? (fields["Timestamp"] as? Int).map(Double.init) else {
                throw ServiceError(type: "InvalidArgumentException", message: "Timestamp is required for AT_TIMESTAMP")
            }
            position = .atTimestamp(Int64(seconds * 1000))
        default:
            throw ServiceError(type: "ValidationException",
                               message: "1 validation error detected: Value '\(type)' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]")
        }
        return ["ShardIterator": Iterator(stream: stream.name, shard: shard, position: position).token]
    }

    private func getRecords(_ fields: [String: Any]) async throws -> [String: Any] {
        guard let token = fields["ShardIterator"] as? String, let iterator = Iterator(token: token) else {
            throw ServiceError(type: "InvalidArgumentException", message: "Invalid ShardIterator.")
        }
        let limit = fields["Limit"] as? Int ?? 10_000
        guard (1...10_000).contains(limit) else {
            throw ServiceError(type: "ValidationException",
                               message: "1 validation error detected: Value '\(limit)' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000")
        }
        guard try await store.stream(iterator.stream) != nil else { throw notFound(iterator.stream) }
        let now = clock()
        var records = try await store.records(in: iterator.stream, shard: iterator.shard, from: iterator.position, limit: limit, now: now)
        var bytes = 0
        if let cut = records.firstIndex(where: { record in
            bytes += record.data.count + record.partitionKey.utf8.count
            return bytes > Self.maximumGetRecordsBytes
        }) {
            records.removeSubrange(max(cut, 1)...)  // the rest comes with the next iterator
        }
        var next = iterator
        if let last = records.last { next.position = .afterSequence(last.sequence) }
        let latest = try await store.lastSequence(in: iterator.stream, shard: iterator.shard)
        let behind = records.last.map { $0.sequence < latest ? max(0, now - $0.arrivalMilliseconds) : 0 } ?? 0
        return [
            "Records": records.map { record -> [String: Any] in
                ["SequenceNumber": record.sequenceNumber, "ApproximateArrivalTimestamp": Self.seconds(record.arrivalMilliseconds),
                 "Data": Data(record.data).base64EncodedString(), "PartitionKey": record.partitionKey]
            },
            "NextShardIterator": next.token,
            "MillisBehindLatest": behind,
        ]
    }
}
