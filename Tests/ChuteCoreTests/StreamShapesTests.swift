import ChuteCore
import Foundation
import Testing

/// Shard hash-key ranges, sequence numbers and Lambda's Kinesis event, as Kinesis writes them.
@Suite struct StreamShapesTests {
    @Test func shardRangesSplitTheHashKeySpaceAsKinesisDoes() {
        let three = ShardMap(shardCount: 3)
        #expect((0..<3).map { String(three.startingHashKey($0)) }
            == ["0", "113427455640312821154458202477256070485", "226854911280625642308916404954512140970"])
        #expect(String(three.endingHashKey(0)) == "113427455640312821154458202477256070484")
        #expect(String(three.endingHashKey(2)) == "340282366920938463463374607431768211455")
        let four = ShardMap(shardCount: 4)
        #expect(String(four.startingHashKey(1)) == "85070591730234615865843651857942052864")
        #expect(four.shard(for: four.startingHashKey(1)) == 1)
        #expect(four.shard(for: four.startingHashKey(1) - 1) == 0)
        #expect(four.shard(for: .max) == 3)
        #expect(ShardMap(shardCount: 1).shard(for: 12345) == 0)
        for count in [1, 2, 5, 7, 10, 256] {
            let map = ShardMap(shardCount: count)
            for index in 1..<count { #expect(map.endingHashKey(index - 1) + 1 == map.startingHashKey(index)) }
        }
    }

    @Test func hashKeysAreBigEndianDigestsOrDecimalText() {
        #expect(ShardMap.hashKey(digest: [UInt8](repeating: 0, count: 15) + [1]) == 1)
        #expect(ShardMap.hashKey(digest: [0x80] + [UInt8](repeating: 0, count: 15)) == UInt128(1) << 127)
        #expect(ShardMap.hashKey(decimal: "340282366920938463463374607431768211455") == .max)
        #expect(ShardMap.hashKey(decimal: "340282366920938463463374607431768211456") == nil)
        #expect(ShardMap.hashKey(decimal: "-1") == nil)
        #expect(ShardMap.shardID(3) == "shardId-000000000003")
        #expect(ShardMap.shardIndex("shardId-000000000003") == 3)
        #expect(ShardMap.shardIndex("shard-3") == nil)
    }

    @Test func sequenceNumbersSortAsTextAsTheyDoAsNumbers() {
        #expect(StreamRecord.sequenceNumber(9) < StreamRecord.sequenceNumber(10))
        #expect(StreamRecord.sequence(StreamRecord.sequenceNumber(123_456)) == 123_456)
        #expect(StreamRecord.sequence("12a") == nil)
    }

    @Test func theFunctionsEventCarriesEachRecordAsLambdaDoes() throws {
        let record = StreamRecord(shardID: "shardId-000000000001", sequence: 42, partitionKey: "user-1", data: Array(#"{"n":1}"#.utf8),
                                  arrivalMilliseconds: 1_700_000_000_123)
        let json = KinesisEvent.json([record], streamARN: "arn:aws:kinesis:us-east-1:000000000000:stream/clicks", region: "us-east-1",
                                     roleARN: "arn:aws:iam::000000000000:role/chute")
        let event = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let first = try #require((event["Records"] as? [[String: Any]])?.first)
        let kinesis = try #require(first["kinesis"] as? [String: Any])
        #expect(kinesis["kinesisSchemaVersion"] as? String == "1.0")
        #expect(kinesis["partitionKey"] as? String == "user-1")
        #expect(kinesis["sequenceNumber"] as? String == record.sequenceNumber)
        #expect(kinesis["data"] as? String == "eyJuIjoxfQ==")
        #expect(kinesis["approximateArrivalTimestamp"] as? Double == 1_700_000_000.123)
        #expect(first["eventID"] as? String == "shardId-000000000001:\(record.sequenceNumber)")
        #expect(first["eventName"] as? String == "aws:kinesis:record")
        #expect(first["eventSource"] as? String == "aws:kinesis")
        #expect(first["eventSourceARN"] as? String == "arn:aws:kinesis:us-east-1:000000000000:stream/clicks")
        #expect(first["invokeIdentityArn"] as? String == "arn:aws:iam::000000000000:role/chute")
    }
}

/// The on-failure record of a stream mapping, field by field as Lambda writes it.
@Suite struct StreamFailureRecordTests {
    static let records = (7...8).map {
        StreamRecord(shardID: "shardId-000000000002", sequence: UInt64($0), partitionKey: "k", data: [], arrivalMilliseconds: 1_700_000_000_000 + Int64($0))
    }

    static func object(_ record: StreamFailureRecord) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(record.json.utf8)) as? [String: Any])
    }

    @Test func exhaustedRetriesCarryTheLastFunctionErrorAndWhereTheRecordsAre() throws {
        let record = StreamFailureRecord(
            requestID: "r-1", functionARN: "arn:aws:lambda:us-east-1:000000000000:function:f",
            discard: .init(records: Self.records, condition: .retryAttemptsExhausted, invokeCount: 2, lastFunctionError: "Unhandled"),
            streamARN: "arn:aws:kinesis:us-east-1:000000000000:stream/clicks", timestampMilliseconds: 1_700_000_100_000)
        let json = try Self.object(record)
        #expect(record.json.hasPrefix(#"{"requestContext":{"requestId":"r-1","functionArn":"arn:aws:lambda:us-east-1:000000000000:function:f","condition":"RetryAttemptsExhausted","approximateInvokeCount":2},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"version":"1.0","timestamp":"2023-11-14T22:15:00.000Z","KinesisBatchInfo":"#))
        let info = try #require(json["KinesisBatchInfo"] as? [String: Any])
        #expect(info["shardId"] as? String == "shardId-000000000002")
        #expect(info["startSequenceNumber"] as? String == Self.records[0].sequenceNumber)
        #expect(info["endSequenceNumber"] as? String == Self.records[1].sequenceNumber)
        #expect(info["approximateArrivalOfFirstRecord"] as? String == "2023-11-14T22:13:20.007Z")
        #expect(info["approximateArrivalOfLastRecord"] as? String == "2023-11-14T22:13:20.008Z")
        #expect(info["batchSize"] as? Int == 2)
        #expect(info["streamArn"] as? String == "arn:aws:kinesis:us-east-1:000000000000:stream/clicks")
    }

    @Test func partialFailuresHaveANullFunctionErrorAndAgedOutRecordsNoResponseContext() throws {
        let partial = StreamFailureRecord(
            requestID: "r", functionARN: "f", discard: .init(records: Self.records, condition: .retryAttemptsExhausted, invokeCount: 3,
                                                             lastFunctionError: nil),
            streamARN: "s", timestampMilliseconds: 0)
        #expect(partial.json.contains(#""functionError":null"#))
        let aged = StreamFailureRecord(
            requestID: "r", functionARN: "f", discard: .init(records: Self.records, condition: .recordAgeExceeded, invokeCount: 1, lastFunctionError: nil),
            streamARN: "s", timestampMilliseconds: 0)
        let json = try Self.object(aged)
        #expect(json["responseContext"] == nil)
        #expect((json["requestContext"] as? [String: Any])?["condition"] as? String == "RecordAgeExceeded")
    }
}

@Suite struct Base64Tests {
    @Test func matchesFoundationForEveryPaddingCase() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + length) }
            #expect(Base64.encode(bytes) == Data(bytes).base64EncodedString())
        }
    }
}
