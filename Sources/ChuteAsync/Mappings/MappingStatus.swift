import ChuteCore
import Synchronization

/// What a running mapping is doing, for operators (`chute mappings status`, `GET /chute/mappings`).
public struct MappingStatus: Sendable, Codable, Hashable {
    public var uuid: String
    public var functionName: String
    public var eventSourceARN: String
    public var state: String
    /// "OK", "PROBLEM: …" or "No records processed", as Lambda's `LastProcessingResult`.
    public var lastProcessingResult: String
    public var shards: [ShardStatus]
    /// Queue mappings: batches being processed now.
    public var batchesInFlight: Int
}

public struct ShardStatus: Sendable, Codable, Hashable {
    public var shardID: String
    /// The checkpoint in the store: processing resumes after it.
    public var checkpoint: String?
    /// The last record read from the shard.
    public var readThrough: String?
    /// The age of the last batch's last record when it finished (Lambda's IteratorAge).
    public var iteratorAgeMilliseconds: Int64?
    public var lanes: [LaneStatus]
}

/// One lane of a shard (one, unless ParallelizationFactor is above 1).
public struct LaneStatus: Sendable, Codable, Hashable {
    /// The batch being invoked now.
    public var inFlight: BatchStatus?
    /// Failed batches waiting to run again, in order: after a bisect, the halves.
    public var retries: [BatchStatus]
    /// Records read but not in a batch yet.
    public var pending: Int
}

public struct BatchStatus: Sendable, Codable, Hashable {
    public var firstSequenceNumber: String
    public var lastSequenceNumber: String
    public var records: Int
    /// Invocations the records had so far.
    public var attempts: Int

    init(_ batch: ShardProcessor.Batch) {
        firstSequenceNumber = batch.records.first?.sequenceNumber ?? ""
        lastSequenceNumber = batch.records.last?.sequenceNumber ?? ""
        records = batch.records.count
        attempts = batch.attempts
    }
}

extension ShardStatus {
    init(shardID: String, checkpoint: UInt64?, lanes: ShardLanes, iteratorAge: Int64?) {
        self.shardID = shardID
        self.checkpoint = checkpoint.map(StreamRecord.sequenceNumber)
        readThrough = lanes.fedThrough == 0 ? nil : StreamRecord.sequenceNumber(lanes.fedThrough)
        iteratorAgeMilliseconds = iteratorAge
        self.lanes = lanes.lanes.map { lane in
            let outstanding = lane.outstanding
            return LaneStatus(inFlight: outstanding.inFlight.map(BatchStatus.init), retries: outstanding.retries.map(BatchStatus.init),
                              pending: outstanding.pending)
        }
    }
}
