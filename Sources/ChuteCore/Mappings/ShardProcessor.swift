/// Lambda's rules for one shard of a stream event source mapping, as a pure state machine that a
/// driver feeds with records and results and asks what to do next; time is a parameter, so tests
/// run days of retries and record ages in microseconds.
///
/// - Batches take records in shard order, up to `batchSize` (and 6 MB), and wait up to the
///   batching window for a full batch.
/// - A failed batch blocks the shard and is retried in order. With bisect, a failed batch is split
///   in two, and each half keeps the batch's attempt count (a split is not a retry). A partial
///   failure (ReportBatchItemFailures) completes the records before the lowest failed sequence
///   number and retries from it.
/// - Records run out of retries (`maximumRetryAttempts`) or of age (`maximumRecordAge`) are
///   discarded: handed back to the driver for the on-failure destination.
/// - Records that match no filter are skipped, and the checkpoint moves past them.
/// - The checkpoint is the last sequence number before the lowest record still outstanding, or
///   the last one fed when nothing is outstanding: a driver that stores it with each result's
///   records resumes there after a crash (at-least-once).
public struct ShardProcessor: Sendable {
    public struct Settings: Sendable, Hashable {
        public var batchSize: Int
        public var batchingWindowMilliseconds: Int64
        /// nil: retried until the records expire (Lambda's -1).
        public var maximumRetryAttempts: Int?
        /// nil: records are kept until the stream's retention drops them (Lambda's -1).
        public var maximumRecordAgeMilliseconds: Int64?
        public var bisectOnError: Bool
        public var reportBatchItemFailures: Bool
        /// Tumbling windows: a batch holds records of one window only (nil: no windows).
        public var windowMilliseconds: Int64?

        /// A batch also closes at 6 MB of data.
        public static let maximumBatchBytes = 6 * 1_048_576

        public init(batchSize: Int = 100, batchingWindowMilliseconds: Int64 = 0, maximumRetryAttempts: Int? = nil,
                    maximumRecordAgeMilliseconds: Int64? = nil, bisectOnError: Bool = false, reportBatchItemFailures: Bool = false,
                    windowMilliseconds: Int64? = nil) {
            self.batchSize = batchSize
            self.batchingWindowMilliseconds = batchingWindowMilliseconds
            self.maximumRetryAttempts = maximumRetryAttempts
            self.maximumRecordAgeMilliseconds = maximumRecordAgeMilliseconds
            self.bisectOnError = bisectOnError
            self.reportBatchItemFailures = reportBatchItemFailures
            self.windowMilliseconds = windowMilliseconds
        }
    }

    /// Records to invoke the function with, and how often they were invoked before.
    public struct Batch: Sendable, Hashable {
        public var records: [StreamRecord]
        public var attempts: Int
        /// The last failure's `functionError` ("Handled", "Unhandled"; nil for a partial failure or
        /// an invalid response), for the on-failure record's `responseContext`.
        public var lastFunctionError: String?

        public init(records: [StreamRecord], attempts: Int, lastFunctionError: String?) {
            self.records = records
            self.attempts = attempts
            self.lastFunctionError = lastFunctionError
        }
    }

    /// Records given up on, for the on-failure destination.
    public struct Discard: Sendable, Hashable {
        public var records: [StreamRecord]
        public var condition: StreamFailureCondition
        /// `approximateInvokeCount`: the invocations the records had (at least 1, as Lambda reports).
        public var invokeCount: Int
        /// The last failure's `functionError`; the record has a `responseContext` only for
        /// `.retryAttemptsExhausted`.
        public var lastFunctionError: String?

        public init(records: [StreamRecord], condition: StreamFailureCondition, invokeCount: Int, lastFunctionError: String?) {
            self.records = records
            self.condition = condition
            self.invokeCount = invokeCount
            self.lastFunctionError = lastFunctionError
        }
    }

    public enum Action: Sendable, Hashable {
        case invoke(Batch)
        case discard(Discard)
        /// Nothing to do until this time, or until more records or a result come (nil).
        case wait(untilMilliseconds: Int64?)
    }

    /// How an invocation of a batch ended.
    public enum Result: Sendable, Hashable {
        case success
        /// ReportBatchItemFailures: the lowest `itemIdentifier` the function listed.
        case partialFailure(firstFailedSequence: UInt64)
        /// A function error (its kind), or an invalid response (nil).
        case failure(functionError: String?)
        /// The function did not run (throttled, stopping): the batch runs again as it was, and
        /// the attempt does not count towards the retries.
        case notRun
    }

    public let settings: Settings
    private var pending: [StreamRecord] = []
    private var retries: [Batch] = []
    private var discards: [Discard] = []
    private var inFlight: Batch?
    /// When the oldest pending record was fed: the batching window runs from then.
    private var pendingSince: Int64?
    /// The last sequence fed: the driver reads the shard on from here.
    public private(set) var fedThrough: UInt64

    /// Starts after `checkpoint` (the last sequence number already processed).
    public init(settings: Settings, checkpoint: UInt64) {
        self.settings = settings
        fedThrough = checkpoint
    }

    /// The last sequence number before the lowest record still outstanding.
    public var checkpoint: UInt64 {
        let outstanding = [inFlight?.records.first?.sequence, retries.first?.records.first?.sequence,
                           discards.first?.records.first?.sequence, pending.first?.sequence].compactMap { $0 }
        guard let lowest = outstanding.min() else { return fedThrough }
        return lowest - 1
    }

    /// Records fed but not yet in a batch: the driver fetches more while this is below a batch.
    public var pendingCount: Int { pending.count }

    public var isBusy: Bool { inFlight != nil }

    /// The arrival time of the next record to run (a retry's, else the oldest pending one): tumbling
    /// windows close when it belongs to a later window.
    public var nextArrivalMilliseconds: Int64? {
        retries.first?.records.first?.arrivalMilliseconds ?? pending.first?.arrivalMilliseconds
    }

    /// The records held for invocation, in order, for operators (the batch in flight first).
    public var outstanding: (inFlight: Batch?, retries: [Batch], pending: Int) { (inFlight, retries, pending.count) }

    /// Adds the shard's next records, in order; `keep` says which match the mapping's filters
    /// (the others are skipped).
    public mutating func add(_ records: [StreamRecord], keep: [Bool]? = nil, now: Int64) {
        for (index, record) in records.enumerated() where record.sequence > fedThrough {
            fedThrough = record.sequence
            guard keep?[index] ?? true else { continue }
            if pending.isEmpty { pendingSince = now }
            pending.append(record)
        }
    }

    /// What to do at `now`. Call it again after acting on an invoke or a discard.
    public mutating func next(now: Int64) -> Action {
        if !discards.isEmpty { return .discard(discards.removeFirst()) }
        guard inFlight == nil else { return .wait(untilMilliseconds: nil) }
        if var batch = retries.first {
            let expired = expiredPrefix(batch.records, now: now)
            if expired > 0 {
                retries.removeFirst()
                let discard = Discard(records: Array(batch.records[..<expired]), condition: .recordAgeExceeded,
                                      invokeCount: max(1, batch.attempts), lastFunctionError: batch.lastFunctionError)
                batch.records.removeFirst(expired)
                if !batch.records.isEmpty { retries.insert(batch, at: 0) }
                return .discard(discard)
            }
            retries.removeFirst()
            inFlight = batch
            return .invoke(batch)
        }
        let expired = expiredPrefix(pending, now: now)
        if expired > 0 {
            let discard = Discard(records: Array(pending[..<expired]), condition: .recordAgeExceeded, invokeCount: 1, lastFunctionError: nil)
            pending.removeFirst(expired)
            if pending.isEmpty { pendingSince = nil }
            return .discard(discard)
        }
        guard !pending.isEmpty else { return .wait(untilMilliseconds: nil) }
        var count = 0, bytes = 0
        let window = settings.windowMilliseconds.map { TumblingWindow.start(of: pending[0].arrivalMilliseconds, lengthMilliseconds: $0) }
        while count < min(settings.batchSize, pending.count) {
            let size = pending[count].data.count + pending[count].partitionKey.utf8.count
            if count > 0 && bytes + size > Settings.maximumBatchBytes { break }
            if let window, let length = settings.windowMilliseconds,
               TumblingWindow.start(of: pending[count].arrivalMilliseconds, lengthMilliseconds: length) != window { break }
            bytes += size
            count += 1
        }
        let full = count == settings.batchSize || count < pending.count
        if !full, let since = pendingSince, now < since + settings.batchingWindowMilliseconds {
            return .wait(untilMilliseconds: since + settings.batchingWindowMilliseconds)
        }
        let batch = Batch(records: Array(pending[..<count]), attempts: 0, lastFunctionError: nil)
        pending.removeFirst(count)
        pendingSince = pending.isEmpty ? nil : now
        inFlight = batch
        return .invoke(batch)
    }

    /// Records the result of the batch in flight.
    public mutating func complete(_ result: Result) {
        guard var batch = inFlight else { return }
        inFlight = nil
        if result == .notRun {
            retries.insert(batch, at: 0)
            return
        }
        batch.attempts += 1
        switch result {
        case .notRun:
            return
        case .success:
            return
        case .partialFailure(let sequence):
            guard let index = batch.records.firstIndex(where: { $0.sequence == sequence }) else {
                return failed(batch, functionError: nil, bisect: settings.bisectOnError)
            }
            // The records before the first failure are done; the batch is cut there.
            batch.records.removeFirst(index)
            failed(batch, functionError: nil, bisect: false)
        case .failure(let functionError):
            failed(batch, functionError: functionError, bisect: settings.bisectOnError)
        }
    }

    private mutating func failed(_ batch: Batch, functionError: String?, bisect: Bool) {
        var batch = batch
        batch.lastFunctionError = functionError
        if let maximum = settings.maximumRetryAttempts, batch.attempts > maximum {
            discards.append(Discard(records: batch.records, condition: .retryAttemptsExhausted, invokeCount: batch.attempts,
                                    lastFunctionError: functionError))
            return
        }
        if bisect, batch.records.count > 1 {
            let middle = batch.records.count / 2
            var first = batch, second = batch
            first.records = Array(batch.records[..<middle])
            second.records = Array(batch.records[middle...])
            retries.insert(contentsOf: [first, second], at: 0)
        } else {
            retries.insert(batch, at: 0)
        }
    }

    /// How many records at the head of `records` are older than the maximum record age.
    private func expiredPrefix(_ records: [StreamRecord], now: Int64) -> Int {
        guard let maximum = settings.maximumRecordAgeMilliseconds else { return 0 }
        return records.prefix { now - $0.arrivalMilliseconds > maximum }.count
    }
}

/// Why records left a stream mapping without being processed (the on-failure record's `condition`).
public enum StreamFailureCondition: String, Sendable, Hashable {
    case retryAttemptsExhausted = "RetryAttemptsExhausted"
    case recordAgeExceeded = "RecordAgeExceeded"
}
