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
    let readLimit = ShardReadLimit()
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
                throw ServiceError(type: "UnknownOperationException",
                                   message: "The operation \(operation.prefix(128)) is not supported by Chute's Kinesis API.")
            }
        }
    }

    // MARK: Parameters

    func streamARN(_ name: String) -> String { "arn:aws:kinesis:\(region):\(accountID):stream/\(name)" }

    /// The stream a request names by `StreamName` or `StreamARN`.
    private func streamName(_ fields: RequestFields) throws(ServiceError) -> String {
        if let name = try fields.string("StreamName"), !name.isEmpty { return try Self.validName(name) }
        if let arn = try fields.string("StreamARN"), let range = arn.range(of: ":stream/") {
            return try Self.validName(String(arn[range.upperBound...]))
        }
        throw ServiceError(type: "ValidationException", message: "Either StreamName or StreamARN should be provided.")
    }

    /// Kinesis's stream names: 1-128 of `[a-zA-Z0-9_.-]`.
    private static func validName(_ name: String) throws(ServiceError) -> String {
        guard StreamName.isValid(name) else {
            throw ServiceError.validation([
                "Value '\(name.prefix(256))' at 'streamName' failed to satisfy constraint: "
                    + "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and 128",
            ])
        }
        return name
    }

    /// An optional whole number within `range`, in Kinesis's words.
    private static func integer(_ fields: RequestFields, _ name: String, in range: ClosedRange<Int>) throws(ServiceError) -> Int? {
        guard let value = try fields.integer(name) else { return nil }
        let member = RequestFields.lowerFirst(name)
        if value < range.lowerBound {
            throw ServiceError.validation([
                "Value '\(value)' at '\(member)' failed to satisfy constraint: Member must have value greater than or equal to \(range.lowerBound)",
            ])
        }
        if value > range.upperBound {
            throw ServiceError.validation([
                "Value '\(value)' at '\(member)' failed to satisfy constraint: Member must have value less than or equal to \(range.upperBound)",
            ])
        }
        return value
    }

    private func existingStream(_ fields: RequestFields) async throws -> StreamDescription {
        let name = try streamName(fields)
        guard let stream = try await store.stream(name) else { throw notFound(name) }
        return stream
    }

    private func notFound(_ name: String) -> ServiceError {
        ServiceError(type: "ResourceNotFoundException", message: "Stream \(name) under account \(accountID) not found.")
    }

    private static func seconds(_ milliseconds: Int64) -> Double { Double(milliseconds) / 1000 }

    // MARK: Streams

    private func createStream(_ fields: RequestFields) async throws -> [String: Any] {
        let name = try streamName(fields)
        let shards = try Self.integer(fields, "ShardCount", in: 1...Self.maximumShards) ?? 4  // on-demand streams start with 4 shards
        guard try await store.createStream(name, shardCount: shards, retentionHours: 24, now: clock()) != nil else {
            throw ServiceError(type: "ResourceInUseException", message: "Stream \(name) under account \(accountID) already exists.")
        }
        return [:]
    }

    private func deleteStream(_ fields: RequestFields) async throws -> [String: Any] {
        let name = try streamName(fields)
        guard try await store.deleteStream(name) else { throw notFound(name) }
        return [:]
    }

    private func summary(_ stream: StreamDescription) -> [String: Any] {
        ["StreamName": stream.name, "StreamARN": streamARN(stream.name), "StreamStatus": "ACTIVE",
         "StreamModeDetails": ["StreamMode": "PROVISIONED"], "StreamCreationTimestamp": Self.seconds(stream.createdAtMilliseconds)]
    }

    private func listStreams(_ fields: RequestFields) async throws -> [String: Any] {
        let after = try fields.string("ExclusiveStartStreamName") ?? ""
        let limit = try Self.integer(fields, "Limit", in: 1...10_000) ?? 100
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

    private func describeStream(_ fields: RequestFields) async throws -> [String: Any] {
        _ = try Self.integer(fields, "Limit", in: 1...10_000)
        let stream = try await existingStream(fields)
        var description = summary(stream)
        description["Shards"] = try await shards(stream)
        description["HasMoreShards"] = false
        description["RetentionPeriodHours"] = stream.retentionHours
        description["EnhancedMonitoring"] = [["ShardLevelMetrics": [String]()]]
        description["EncryptionType"] = "NONE"
        return ["StreamDescription": description]
    }

    private func describeStreamSummary(_ fields: RequestFields) async throws -> [String: Any] {
        let stream = try await existingStream(fields)
        var description = summary(stream)
        description["RetentionPeriodHours"] = stream.retentionHours
        description["EnhancedMonitoring"] = [["ShardLevelMetrics": [String]()]]
        description["EncryptionType"] = "NONE"
        description["OpenShardCount"] = stream.shardCount
        description["ConsumerCount"] = 0
        return ["StreamDescriptionSummary": description]
    }

    private func listShards(_ fields: RequestFields) async throws -> [String: Any] {
        _ = try Self.integer(fields, "MaxResults", in: 1...10_000)
        return ["Shards": try await shards(try await existingStream(fields))]
    }

    // MARK: Records

    private static func entry(_ fields: RequestFields) throws(ServiceError) -> StreamWriter.Entry {
        guard let key = try fields.string("PartitionKey") else {
            throw ServiceError.validation(["Value null at 'partitionKey' failed to satisfy constraint: Member must not be null"])
        }
        guard let text = try fields.string("Data"), let data = Base64.decode(text) else {
            throw ServiceError.validation(["Value at 'data' failed to satisfy constraint: Member must be base64-encoded bytes"])
        }
        return StreamWriter.Entry(partitionKey: key, explicitHashKey: try fields.string("ExplicitHashKey"), data: data)
    }

    private func put(_ entries: [StreamWriter.Entry], _ name: String) async throws -> [StreamRecord] {
        guard try await store.stream(name) != nil else { throw notFound(name) }
        let records = try await StreamWriter(store: store).put(entries, to: name, now: clock())
        recordsPut(name)
        return records
    }

    private func putRecord(_ fields: RequestFields) async throws -> [String: Any] {
        let record = try await put([try Self.entry(fields)], try streamName(fields))[0]
        return ["ShardId": record.shardID, "SequenceNumber": record.sequenceNumber, "EncryptionType": "NONE"]
    }

    private func putRecords(_ fields: RequestFields) async throws -> [String: Any] {
        guard let items = try fields.objects("Records"), !items.isEmpty else {
            throw ServiceError.validation(["Value null at 'records' failed to satisfy constraint: Member must not be null"])
        }
        guard items.count <= StreamWriter.maximumRecordsPerCall else {
            throw ServiceError.validation([
                "Value at 'records' failed to satisfy constraint: Member must have length less than or equal to \(StreamWriter.maximumRecordsPerCall)",
            ])
        }
        let entries = try items.map { item throws(ServiceError) in try Self.entry(item) }
        let records = try await put(entries, try streamName(fields))
        return ["FailedRecordCount": 0, "EncryptionType": "NONE",
                "Records": records.map { ["ShardId": $0.shardID, "SequenceNumber": $0.sequenceNumber] }]
    }

    // MARK: Reading

    private func getShardIterator(_ fields: RequestFields) async throws -> [String: Any] {
        let stream = try await existingStream(fields)
        let shardID = try fields.string("ShardId") ?? ""
        guard let shard = ShardMap.shardIndex(shardID), shard < stream.shardCount else {
            throw ServiceError(type: "ResourceNotFoundException",
                               message: "Shard \(shardID.prefix(256)) in stream \(stream.name) under account \(accountID) does not exist")
        }
        let type = try fields.string("ShardIteratorType") ?? ""
        func sequence() throws(ServiceError) -> UInt64 {
            guard let text = try fields.string("StartingSequenceNumber") else {
                throw ServiceError(type: "InvalidArgumentException", message: "StartingSequenceNumber is required for \(type)")
            }
            guard StreamRecord.isWellFormedSequenceNumber(text) else {
                throw ServiceError.validation([
                    "Value '\(text.prefix(256))' at 'startingSequenceNumber' failed to satisfy constraint: "
                        + "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})",
                ])
            }
            guard let sequence = StreamRecord.sequence(text) else {
                throw ServiceError(type: "InvalidArgumentException",
                                   message: "StartingSequenceNumber \(text) used in GetShardIterator on shard \(shardID) in stream \(stream.name) "
                                       + "under account \(accountID) is invalid because it did not come from this stream.")
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
            guard let milliseconds = try fields.timestamp("Timestamp") else {
                throw ServiceError(type: "InvalidArgumentException", message: "Timestamp is required for AT_TIMESTAMP")
            }
            position = .atTimestamp(milliseconds)
        default:
            throw ServiceError.validation([
                "Value '\(type.prefix(256))' at 'shardIteratorType' failed to satisfy constraint: "
                    + "Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]",
            ])
        }
        return ["ShardIterator": ShardIterator(stream: stream.name, shard: shard, position: position).token]
    }

    private func getRecords(_ fields: RequestFields) async throws -> [String: Any] {
        guard let token = try fields.string("ShardIterator"), let iterator = ShardIterator(token: token) else {
            throw ServiceError(type: "InvalidArgumentException", message: "Invalid ShardIterator.")
        }
        let limit = try Self.integer(fields, "Limit", in: 1...10_000) ?? 10_000
        guard let stream = try await store.stream(iterator.stream) else { throw notFound(iterator.stream) }
        guard iterator.shard < stream.shardCount else {
            throw ServiceError(type: "InvalidArgumentException", message: "Invalid ShardIterator: stream \(stream.name) has no such shard.")
        }
        let now = clock()
        guard readLimit.admit(stream: stream.name, shard: iterator.shard, now: now) else {
            throw ServiceError(type: "ProvisionedThroughputExceededException",
                               message: "Rate exceeded for shard \(ShardMap.shardID(iterator.shard)) in stream \(stream.name) under account \(accountID).")
        }
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
                 "Data": Base64.encode(record.data), "PartitionKey": record.partitionKey]
            },
            "NextShardIterator": next.token,
            "MillisBehindLatest": behind,
        ]
    }
}
