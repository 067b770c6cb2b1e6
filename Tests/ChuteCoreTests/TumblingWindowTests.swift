import ChuteCore
import Foundation
import Testing

/// Tumbling windows with a virtual clock: alignment, batches that never span windows, when the
/// final invocation is due, the state a response must carry, and the event's window members.
@Suite struct TumblingWindowTests {
    static let t0: Int64 = 1_700_000_040_000  // a multiple of 60 s

    static func record(_ sequence: UInt64, at time: Int64) -> StreamRecord {
        StreamRecord(shardID: "shardId-000000000000", sequence: sequence, partitionKey: "k", data: Array("r\(sequence)".utf8),
                     arrivalMilliseconds: time)
    }

    @Test func windowsAlignToTheEpochAndBatchesNeverSpanTwo() {
        let window = TumblingWindow(containing: Self.t0 + 59_999, seconds: 60)
        #expect(window.startMilliseconds == Self.t0 && window.endMilliseconds == Self.t0 + 60_000)
        #expect(window.contains(Self.t0) && !window.contains(Self.t0 + 60_000))

        var shard = ShardProcessor(settings: .init(batchSize: 10, windowMilliseconds: 60_000), checkpoint: 0)
        shard.add([Self.record(1, at: Self.t0 + 1), Self.record(2, at: Self.t0 + 59_000), Self.record(3, at: Self.t0 + 60_000)], now: Self.t0 + 60_000)
        guard case .invoke(let first) = shard.next(now: Self.t0 + 60_000) else { Issue.record("expected a batch"); return }
        #expect(first.records.map(\.sequence) == [1, 2])  // cut at the window's end, without waiting
        shard.complete(.success)
        #expect(shard.nextArrivalMilliseconds == Self.t0 + 60_000)
    }

    @Test func theFinalInvocationIsDueWhenTheWindowIsOverOrTheNextRecordsAreLater() {
        let window = TumblingWindow(containing: Self.t0, seconds: 60)
        #expect(!window.isClosing(now: Self.t0 + 30_000, nextArrival: nil))
        #expect(!window.isClosing(now: Self.t0 + 61_000, nextArrival: Self.t0 + 59_000))  // its own records still waiting
        #expect(window.isClosing(now: Self.t0 + 30_000, nextArrival: Self.t0 + 60_000))
        #expect(window.isClosing(now: Self.t0 + 60_000, nextArrival: nil))
    }

    @Test func aResponseMustCarryStateAndAnOversizedStateEndsTheWindowEarly() {
        var window = TumblingWindow(containing: Self.t0, seconds: 60)
        let withoutState = window.take(Array(#"{"batchItemFailures":[]}"#.utf8))
        let notJSON = window.take(Array("not json".utf8))
        let withState = window.take(Array(#"{"state":{"count":2,"keys":["a","b"]}}"#.utf8))
        #expect(!withoutState && !notJSON && withState)
        #expect(window.state == #"{"count":2,"keys":["a","b"]}"#)
        #expect(!window.terminatedEarly)
        let big = String(repeating: "x", count: TumblingWindow.maximumStateBytes)
        let oversized = window.take(Array(#"{"state":{"blob":"\#(big)"}}"#.utf8))
        #expect(oversized)
        #expect(window.terminatedEarly && window.isClosing(now: Self.t0, nextArrival: Self.t0))
    }

    @Test func theEventCarriesTheWindowItsStateAndFlags() throws {
        var window = TumblingWindow(containing: Self.t0 + 5, seconds: 60)
        _ = window.take(Array(#"{"state":{"count":1}}"#.utf8))
        let bytes = window.event([Self.record(7, at: Self.t0 + 5)], final: false, shardID: "shardId-000000000000",
                                 streamARN: "arn:aws:kinesis:us-east-1:000000000000:stream/s", region: "us-east-1", roleARN: "arn:aws:iam::000000000000:role/r")
        let event = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect((event["Records"] as? [Any])?.count == 1)
        #expect(event["window"] as? [String: String] == ["start": Timestamps.iso8601(milliseconds: Self.t0).replacingOccurrences(of: ".000", with: ""),
                                                       "end": Timestamps.iso8601(milliseconds: Self.t0 + 60_000).replacingOccurrences(of: ".000", with: "")])
        #expect((event["state"] as? [String: Int]) == ["count": 1])
        #expect(event["shardId"] as? String == "shardId-000000000000")
        #expect(event["isFinalInvokeForWindow"] as? Bool == false && event["isWindowTerminatedEarly"] as? Bool == false)
        let final = try #require(try JSONSerialization.jsonObject(with: Data(window.event([], final: true, shardID: "s", streamARN: "a",
                                                                                                region: "r", roleARN: "x"))) as? [String: Any])
        #expect((final["Records"] as? [Any])?.isEmpty == true && final["isFinalInvokeForWindow"] as? Bool == true)
    }
}
