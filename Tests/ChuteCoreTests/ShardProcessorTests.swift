import ChuteCore
import Testing

/// Lambda's stream rules for one shard, driven with a virtual clock: batching windows, retries
/// that block the shard, bisect, partial batch failures, record age, filters and the checkpoint.
@Suite struct ShardProcessorTests {
    static let t0: Int64 = 1_700_000_000_000

    static func records(_ sequences: ClosedRange<UInt64>, at time: Int64 = t0) -> [StreamRecord] {
        sequences.map { StreamRecord(shardID: "shardId-000000000000", sequence: $0, partitionKey: "k", data: [UInt8($0 % 256)],
                                     arrivalMilliseconds: time) }
    }

    static func invoked(_ action: ShardProcessor.Action) -> [UInt64]? {
        guard case .invoke(let batch) = action else { return nil }
        return batch.records.map(\.sequence)
    }

    @Test func aBatchWaitsForItsWindowUnlessItIsFull() {
        var shard = ShardProcessor(settings: .init(batchSize: 3, batchingWindowMilliseconds: 1_000), checkpoint: 0)
        shard.add(Self.records(1...2), now: Self.t0)
        #expect(shard.next(now: Self.t0) == .wait(untilMilliseconds: Self.t0 + 1_000))
        #expect(shard.next(now: Self.t0 + 999) == .wait(untilMilliseconds: Self.t0 + 1_000))
        #expect(Self.invoked(shard.next(now: Self.t0 + 1_000)) == [1, 2])
        #expect(shard.next(now: Self.t0 + 1_000) == .wait(untilMilliseconds: nil))  // one batch at a time
        shard.complete(.success)
        #expect(shard.checkpoint == 2)
        shard.add(Self.records(3...7), now: Self.t0 + 2_000)
        #expect(Self.invoked(shard.next(now: Self.t0 + 2_000)) == [3, 4, 5])  // full: no wait
        shard.complete(.success)
        #expect(shard.next(now: Self.t0 + 2_000) == .wait(untilMilliseconds: Self.t0 + 3_000))
        #expect(shard.checkpoint == 5)
    }

    @Test func aFailingBatchBlocksTheShardUntilItsRetriesRunOut() throws {
        var shard = ShardProcessor(settings: .init(batchSize: 2, maximumRetryAttempts: 1), checkpoint: 0)
        shard.add(Self.records(1...4), now: Self.t0)
        #expect(Self.invoked(shard.next(now: Self.t0)) == [1, 2])
        shard.complete(.failure(functionError: "Unhandled"))
        #expect(shard.checkpoint == 0)
        guard case .invoke(let retry) = shard.next(now: Self.t0) else { Issue.record("expected a retry"); return }
        #expect(retry.records.map(\.sequence) == [1, 2])
        #expect(retry.attempts == 1)
        shard.complete(.failure(functionError: "Unhandled"))
        // One retry allowed: two invocations, then the records go to the on-failure destination.
        #expect(shard.next(now: Self.t0) == .discard(.init(records: Self.records(1...2), condition: .retryAttemptsExhausted, invokeCount: 2,
                                                           lastFunctionError: "Unhandled")))
        #expect(shard.checkpoint == 2)
        #expect(Self.invoked(shard.next(now: Self.t0)) == [3, 4])
    }

    @Test func bisectSplitsAFailedBatchUntilThePoisonRecordIsAlone() {
        var shard = ShardProcessor(settings: .init(batchSize: 4, maximumRetryAttempts: 2, bisectOnError: true), checkpoint: 0)
        shard.add(Self.records(1...4), now: Self.t0)
        let poison: UInt64 = 3
        var invocations: [[UInt64]] = []
        var discarded: [ShardProcessor.Discard] = []
        while true {
            let action = shard.next(now: Self.t0)
            if case .discard(let discard) = action { discarded.append(discard); continue }
            guard let sequences = Self.invoked(action) else { break }
            invocations.append(sequences)
            shard.complete(sequences.contains(poison) ? .failure(functionError: "Handled") : .success)
        }
        // [1-4] fails and splits; [1,2] succeeds; [3,4] fails and splits; [3] fails until its
        // attempts (inherited: 2 so far) pass 2; [4] succeeds.
        #expect(invocations == [[1, 2, 3, 4], [1, 2], [3, 4], [3], [4]])
        #expect(discarded.map { $0.records.map(\.sequence) } == [[3]])
        #expect(discarded.first?.invokeCount == 3)
        #expect(shard.checkpoint == 4)
    }

    @Test func aPartialFailureCompletesTheRecordsBeforeItAndRetriesFromIt() {
        var shard = ShardProcessor(settings: .init(batchSize: 5, maximumRetryAttempts: 1, reportBatchItemFailures: true), checkpoint: 0)
        shard.add(Self.records(1...5), now: Self.t0)
        #expect(Self.invoked(shard.next(now: Self.t0)) == [1, 2, 3, 4, 5])
        shard.complete(.partialFailure(firstFailedSequence: 3))
        #expect(shard.checkpoint == 2)
        #expect(Self.invoked(shard.next(now: Self.t0)) == [3, 4, 5])
        shard.complete(.partialFailure(firstFailedSequence: 4))
        // Its retry ran out: the records from the failure on are discarded, without a function error.
        #expect(shard.next(now: Self.t0) == .discard(.init(records: Array(Self.records(4...5)), condition: .retryAttemptsExhausted,
                                                           invokeCount: 2, lastFunctionError: nil)))
        #expect(shard.checkpoint == 5)
    }

    @Test func aReportedIdentifierOutsideTheBatchFailsTheWholeBatch() {
        var shard = ShardProcessor(settings: .init(batchSize: 3, maximumRetryAttempts: 0, reportBatchItemFailures: true), checkpoint: 0)
        shard.add(Self.records(1...3), now: Self.t0)
        _ = shard.next(now: Self.t0)
        shard.complete(.partialFailure(firstFailedSequence: 99))
        #expect(shard.next(now: Self.t0) == .discard(.init(records: Self.records(1...3), condition: .retryAttemptsExhausted, invokeCount: 1,
                                                           lastFunctionError: nil)))
    }

    @Test func recordsPastTheirMaximumAgeAreDiscardedBeforeAndWhileRetrying() {
        let minute: Int64 = 60_000
        var shard = ShardProcessor(settings: .init(batchSize: 1, maximumRecordAgeMilliseconds: minute), checkpoint: 0)
        // Already too old when read: discarded without an invocation (Lambda reports 1).
        shard.add(Self.records(1...1, at: Self.t0 - 2 * minute) + Self.records(2...2), now: Self.t0)
        #expect(shard.next(now: Self.t0) == .discard(.init(records: Self.records(1...1, at: Self.t0 - 2 * minute), condition: .recordAgeExceeded,
                                                           invokeCount: 1, lastFunctionError: nil)))
        // Infinite retries, failing: record 2 is retried until it is a minute old.
        var invocations = 0
        var now = Self.t0
        while case .invoke = shard.next(now: now) {
            invocations += 1
            shard.complete(.failure(functionError: "Unhandled"))
            now += 10_000
        }
        #expect(invocations == 7)  // at 0, 10, … 60 s; at 70 s it is past the age
        #expect(shard.checkpoint == 2)
    }

    @Test func recordsMatchingNoFilterAreSkippedAndTheCheckpointPassesThem() {
        var shard = ShardProcessor(settings: .init(batchSize: 10), checkpoint: 10)
        shard.add(Self.records(9...15), keep: [true, true, true, false, true, false, false], now: Self.t0)
        #expect(Self.invoked(shard.next(now: Self.t0)) == [11, 13])  // 9 and 10 were processed before
        #expect(shard.checkpoint == 10)
        shard.complete(.success)
        #expect(shard.checkpoint == 15)
        #expect(shard.next(now: Self.t0) == .wait(untilMilliseconds: nil))
    }

    @Test func batchesCloseAtSixMegabytes() {
        var shard = ShardProcessor(settings: .init(batchSize: 100), checkpoint: 0)
        let big = (1...4).map { StreamRecord(shardID: "s", sequence: UInt64($0), partitionKey: "k", data: [UInt8](repeating: 0, count: 2_000_000),
                                             arrivalMilliseconds: Self.t0) }
        shard.add(big, now: Self.t0)
        #expect(Self.invoked(shard.next(now: Self.t0)) == [1, 2, 3])
    }
}

/// ParallelizationFactor: lanes by partition key, each in order, and a checkpoint no lane passes.
@Suite struct ShardLanesTests {
    static let t0 = ShardProcessorTests.t0

    static func record(_ sequence: UInt64, key: String) -> StreamRecord {
        StreamRecord(shardID: "shardId-000000000000", sequence: sequence, partitionKey: key, data: [], arrivalMilliseconds: t0)
    }

    @Test func aThrottledBatchRunsAgainWithoutUsingARetry() {
        var shard = ShardProcessor(settings: .init(batchSize: 2, maximumRetryAttempts: 0), checkpoint: 0)
        shard.add(ShardProcessorTests.records(1...2), now: Self.t0)
        _ = shard.next(now: Self.t0)
        shard.complete(.notRun)
        guard case .invoke(let again) = shard.next(now: Self.t0) else { Issue.record("expected the batch again"); return }
        #expect(again.attempts == 0)
    }

    @Test func keysKeepTheirOrderAndAFailingLaneHoldsTheCheckpoint() {
        let keys = (0..<40).map { "key-\($0)" }
        let lanesOfKeys = Set(keys.map { ShardLanes.lane(of: $0, among: 4) })
        #expect(lanesOfKeys.count == 4)  // keys spread over every lane
        var shard = ShardLanes(settings: .init(batchSize: 100), checkpoint: 0, parallelization: 4)
        let records = keys.enumerated().map { Self.record(UInt64($0.offset + 1), key: $0.element) }
        shard.add(records, now: Self.t0)
        var batches: [Int: [UInt64]] = [:]
        for lane in 0..<4 {
            guard case .invoke(let batch) = shard.next(lane: lane, now: Self.t0) else { Issue.record("lane \(lane) idle"); return }
            #expect(batch.records.allSatisfy { ShardLanes.lane(of: $0.partitionKey, among: 4) == lane })
            #expect(batch.records.map(\.sequence) == batch.records.map(\.sequence).sorted())
            batches[lane] = batch.records.map(\.sequence)
        }
        #expect(batches.values.reduce(0) { $0 + $1.count } == 40)  // four batches at once cover the shard
        let failing = ShardLanes.lane(of: "key-0", among: 4)  // holds sequence 1
        for lane in 0..<4 { shard.complete(lane: lane, lane == failing ? .failure(functionError: "Unhandled") : .success) }
        #expect(shard.checkpoint == 0)
        guard case .invoke = shard.next(lane: failing, now: Self.t0) else { Issue.record("expected a retry"); return }
        shard.complete(lane: failing, .success)
        #expect(shard.checkpoint == 40)
    }
}
