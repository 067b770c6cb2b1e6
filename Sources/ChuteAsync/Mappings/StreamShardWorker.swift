import ChuteCore
import ChuteStore
import ChuteWorkers
import Logging
import Synchronization

/// Runs one shard of a stream mapping while this host holds its lease: reads the shard from its
/// checkpoint, feeds the lanes (`ShardLanes`, pure), invokes the function with each batch, and
/// commits the checkpoint with the on-failure records of discarded records in one transaction.
///
/// One loop owns all the state; invocations run as child tasks that post their results to an
/// inbox and wake the loop, as do puts to the stream. A commit refused by the store means the
/// lease moved to another holder: the worker stops, and whoever holds the lease resumes from the
/// committed checkpoint (at-least-once).
struct StreamShardWorker: Sendable {
    let mapping: EventSourceMapping
    let stream: StreamDescription
    let shardIndex: Int
    let lease: ShardLease
    let context: MappingContext
    let handle: ShardHandle

    /// Results posted by invocations, taken by the loop.
    private struct Finished: Sendable {
        var lane: Int
        var batch: ShardProcessor.Batch
        var result: ShardProcessor.Result
        /// The function's response (tumbling windows read their state from it).
        var response: [UInt8]?
        /// A window's final invocation rather than a batch.
        var final = false
        var finishedAt: Int64
    }

    private final class Inbox: Sendable {
        private let finished = Mutex<[Finished]>([])
        func post(_ result: Finished) { finished.withLock { $0.append(result) } }
        func takeAll() -> [Finished] { finished.withLock { finished in defer { finished.removeAll() }; return finished } }
        var hasResults: Bool { finished.withLock { !$0.isEmpty } }
    }

    /// How long a shard waits before running a failed batch again: 100 ms, doubling per attempt
    /// up to 5 s, so a poison batch under infinite retries does not spin.
    static func retryDelay(attempts: Int) -> Int64 {
        min(5_000, 100 << Int64(min(max(attempts - 1, 0), 6)))
    }

    /// Checkpoints are committed at most this often while batches keep finishing (at-least-once
    /// allows a lazy checkpoint; on-failure records are committed at once).
    static let commitIntervalMilliseconds: Int64 = 50

    func run() async {
        let settings = mapping.settings
        let shardID = ShardMap.shardID(shardIndex)
        let streamARN = EventSource.streamARN(stream.name, region: context.region, account: context.account)
        var logger = context.logger
        logger[metadataKey: "mapping"] = "\(mapping.uuid)"
        logger[metadataKey: "shard"] = "\(shardID)"
        let filters = settings.filterPatterns.compactMap { try? EventPattern($0) }

        var lanes = ShardLanes(settings: settings.shardSettings, checkpoint: lease.checkpoint ?? 0,
                               parallelization: settings.parallelizationFactor)
        var position: StreamPosition
        switch (lease.checkpoint, settings.startingPosition) {
        case (let checkpoint?, _): position = .afterSequence(checkpoint)
        case (nil, .atTimestamp): position = .atTimestamp(settings.startingMilliseconds)
        case (nil, .latest):
            let last = (try? await context.store.lastSequence(in: stream.name, shard: shardIndex)) ?? 0
            lanes = ShardLanes(settings: settings.shardSettings, checkpoint: last, parallelization: settings.parallelizationFactor)
            position = .afterSequence(last)
        case (nil, _): position = .trimHorizon
        }
        var committed = lease.checkpoint ?? 0
        var lastCommit: Int64 = 0
        var lastPublished: Int64 = 0
        var plan = DeliveryPlan()
        var busy = Set<Int>()
        var notBefore = [Int64](repeating: 0, count: lanes.lanes.count)
        var iteratorAge: Int64?
        // Tumbling windows (one lane): the open window, and the checkpoint before its first record,
        // which the committed checkpoint does not pass until the window's final invocation
        // succeeded: after a crash the window is replayed with a fresh state.
        let windowSeconds = settings.tumblingWindowSeconds
        var window: TumblingWindow?
        var windowCheckpoint: UInt64?
        let inbox = Inbox()
        let signal = handle.signal

        defer { handle.stopped() }
        // Stopping (the mapping changed, the host shuts down): no new batches, but the ones in
        // flight finish and their checkpoint is committed before the lease is given up.
        var stopping: Bool { Task.isCancelled }
        while !stopping || !busy.isEmpty {
            var now = context.clock()
            for var finished in inbox.takeAll() {
                busy.remove(finished.lane)
                if finished.final {
                    if finished.result == .success, let closed = window {
                        window = closed.terminatedEarly ? TumblingWindow(containing: closed.startMilliseconds, seconds: windowSeconds) : nil
                        windowCheckpoint = window == nil ? nil : lanes.checkpoint
                        handle.lastProcessingResult("OK")
                    } else {
                        notBefore[finished.lane] = now + Self.retryDelay(attempts: 2)
                        handle.lastProcessingResult("PROBLEM: the final invocation of the window failed; the shard waits for it")
                    }
                    continue
                }
                if windowSeconds > 0 {
                    switch finished.result {
                    case .success, .partialFailure:
                        // A windowed response must hold `state`; without it the invocation failed.
                        if window?.take(finished.response ?? []) != true { finished.result = .failure(functionError: nil) }
                    case .failure, .notRun:
                        break
                    }
                }
                lanes.complete(lane: finished.lane, finished.result)
                switch finished.result {
                case .success, .partialFailure:
                    iteratorAge = finished.finishedAt - (finished.batch.records.last?.arrivalMilliseconds ?? finished.finishedAt)
                    handle.lastProcessingResult("OK")
                case .failure:
                    handle.lastProcessingResult("PROBLEM: Function call failed")
                case .notRun where context.directory.function(named: mapping.functionName) == nil:
                    handle.lastProcessingResult("PROBLEM: the function \(mapping.functionName) does not exist")
                case .notRun:
                    handle.lastProcessingResult("PROBLEM: Function call throttled")
                }
                switch finished.result {
                case .failure, .partialFailure: notBefore[finished.lane] = now + Self.retryDelay(attempts: finished.batch.attempts + 1)
                case .notRun where context.directory.function(named: mapping.functionName) == nil:
                    notBefore[finished.lane] = now + 1_000  // until the function is created again
                case .notRun: notBefore[finished.lane] = now + 100
                case .success: break
                }
                context.metrics.batchFinished(mapping.uuid, function: mapping.functionName, records: finished.batch.records.count,
                                              failed: finished.result != .success, iteratorAgeMilliseconds: iteratorAge)
            }

            // Read on while the lanes hold less than a batch each.
            if !stopping && lanes.pendingCount < settings.batchSize * lanes.lanes.count {
                do {
                    let limit = max(settings.batchSize * lanes.lanes.count * 2, 1_000)
                    let records = try await context.store.records(in: stream.name, shard: shardIndex, from: position, limit: limit, now: now)
                    if !records.isEmpty {
                        let keep = filters.isEmpty ? nil : records.map { record in KinesisEvent.passes(record, filters) }
                        lanes.add(records, keep: keep, now: now)
                        position = .afterSequence(lanes.fedThrough)
                    }
                } catch {
                    logger.error("cannot read the shard: \(error)")
                    handle.lastProcessingResult("PROBLEM: cannot read the stream: \(error)")
                    await signal.sleep(milliseconds: 1_000)
                    continue
                }
                now = context.clock()
            }

            var wakeAt: Int64 = now + context.idlePollMilliseconds
            for lane in lanes.lanes.indices where !busy.contains(lane) && !stopping {
                if notBefore[lane] > now {
                    wakeAt = min(wakeAt, notBefore[lane])
                    continue
                }
                if let open = window, open.isClosing(now: now, nextArrival: lanes.lanes[lane].nextArrivalMilliseconds) {
                    busy.insert(lane)
                    let payload = open.event([], final: true, shardID: shardID, streamARN: streamARN, region: context.region,
                                             roleARN: context.roleARN)
                    let final = ShardProcessor.Batch(records: [], attempts: 0, lastFunctionError: nil)
                    Task { [context, mapping] in
                        let (result, response) = await Self.invoke(mapping, batch: final, payload: payload, context: context)
                        inbox.post(Finished(lane: lane, batch: final, result: result, response: response, final: true, finishedAt: context.clock()))
                        signal.wake()
                    }
                    continue
                }
                if let open = window { wakeAt = min(wakeAt, open.endMilliseconds) }
                acting: while true {
                    switch lanes.next(lane: lane, now: now) {
                    case .discard(let discard):
                        self.discard(discard, streamARN: streamARN, now: now, into: &plan, logger: logger)
                    case .invoke(let batch):
                        busy.insert(lane)
                        let payload: [UInt8]
                        if windowSeconds > 0, let first = batch.records.first {
                            if window == nil {
                                window = TumblingWindow(containing: first.arrivalMilliseconds, seconds: windowSeconds)
                                windowCheckpoint = first.sequence - 1
                            }
                            payload = window!.event(batch.records, final: false, shardID: shardID, streamARN: streamARN, region: context.region,
                                                    roleARN: context.roleARN)
                        } else {
                            payload = KinesisEvent.bytes(batch.records, streamARN: streamARN, region: context.region, roleARN: context.roleARN)
                        }
                        Task { [context, mapping] in
                            let (result, response) = await Self.invoke(mapping, batch: batch, payload: payload, context: context)
                            context.batchInvoked?(batch.records)
                            inbox.post(Finished(lane: lane, batch: batch, result: result, response: response, finishedAt: context.clock()))
                            signal.wake()
                        }
                        break acting
                    case .wait(let until):
                        if let until { wakeAt = min(wakeAt, until) }
                        break acting
                    }
                }
            }

            let checkpoint = min(lanes.checkpoint, windowCheckpoint ?? .max)
            if !plan.isEmpty || (checkpoint != committed && (busy.isEmpty || now - lastCommit >= Self.commitIntervalMilliseconds)) {
                plan.shareAllowanceAmongFollowUps()
                do {
                    guard try await context.store.commitCheckpoint(lease, owner: context.owner, sequence: checkpoint, plan: plan, now: now,
                                                                   leaseMilliseconds: context.leaseMilliseconds) else {
                        logger.notice("the shard's lease moved to another holder; this host stops processing it")
                        return
                    }
                } catch {
                    logger.error("cannot commit the checkpoint: \(error)")
                    handle.lastProcessingResult("PROBLEM: cannot commit the checkpoint: \(error)")
                    await signal.sleep(milliseconds: 1_000)
                    continue
                }
                if !plan.isEmpty { context.planWritten(plan) }
                plan = DeliveryPlan()
                committed = checkpoint
                lastCommit = now
            }
            // The status is for operators: made when the shard goes idle or every 100 ms, not per batch.
            if busy.isEmpty || now - lastPublished >= 100 {
                handle.publish(ShardStatus(shardID: shardID, checkpoint: committed == 0 && lease.checkpoint == nil ? nil : committed,
                                           lanes: lanes, iteratorAge: iteratorAge))
                lastPublished = now
            }

            if inbox.hasResults { continue }
            if stopping {
                // A cancelled task's sleep returns at once: wait for the batches in flight outside it.
                if !busy.isEmpty { await Task.detached { await signal.sleep(milliseconds: 100) }.value }
                continue
            }
            let pause = wakeAt - context.clock()
            if pause > 0 { await signal.sleep(milliseconds: pause) }
        }
    }

    /// Invokes the function with a batch and reads the outcome as Lambda does.
    static func invoke(_ mapping: EventSourceMapping, batch: ShardProcessor.Batch, payload: [UInt8], context: MappingContext) async
        -> (ShardProcessor.Result, response: [UInt8]?) {
        guard let function = context.directory.function(named: mapping.functionName), function.reservedConcurrency != 0 else {
            return (.notRun, nil)
        }
        let invocation = Invocation(attempt: batch.attempts + 1, payload: payload)
        switch await function.pool.invoke(invocation) {
        case .throttled:
            return (.notRun, nil)
        case .completed(let report):
            switch report.outcome {
            case .success(let response):
                let result = mapping.settings.reportBatchItemFailures
                    ? BatchItemFailures.result(of: response, batch: batch.records, otherKeysAllowed: mapping.settings.tumblingWindowSeconds > 0)
                    : .success
                return (result, response)
            case .handled:
                return (.failure(functionError: "Handled"), nil)
            case .unhandled:
                return (.failure(functionError: "Unhandled"), nil)
            }
        }
    }

    /// Sends the on-failure record of discarded records to the mapping's destination, in the plan
    /// committed with the checkpoint that passes them.
    private func discard(_ discard: ShardProcessor.Discard, streamARN: String, now: Int64, into plan: inout DeliveryPlan, logger: Logger) {
        context.metrics.discarded(mapping.uuid, function: mapping.functionName, records: discard.records.count)
        let functionARN = "arn:aws:lambda:\(context.region):\(context.account):function:\(mapping.functionName)"
        let record = StreamFailureRecord(requestID: RequestID.make(), functionARN: functionARN, discard: discard, streamARN: streamARN,
                                         timestampMilliseconds: now)
        logger.warning("records discarded", metadata: [
            "condition": "\(discard.condition.rawValue)", "records": "\(discard.records.count)",
            "first": "\(discard.records.first?.sequenceNumber ?? "")", "last": "\(discard.records.last?.sequenceNumber ?? "")",
            "destination": "\(mapping.settings.onFailure ?? "none")"])
        handle.lastProcessingResult("PROBLEM: \(discard.records.count) records discarded (\(discard.condition.rawValue))")
        guard let destination = mapping.settings.onFailure else { return }
        let json = record.json
        context.router.send(json, to: destination, origin: .init(requestID: record.requestID, functionName: mapping.functionName, record: json),
                            hops: 0, now: now, into: &plan)
    }
}

/// Shared between a shard worker and whoever runs it: the worker's wake signal, its published
/// status, and whether it stopped.
final class ShardHandle: Sendable {
    let signal = WakeSignal()
    private let state = Mutex<(status: ShardStatus?, result: String?, stopped: Bool)>((nil, nil, false))

    func publish(_ status: ShardStatus) { state.withLock { $0.status = status } }
    func lastProcessingResult(_ text: String) { state.withLock { $0.result = text } }
    func stopped() { state.withLock { $0.stopped = true } }

    var status: ShardStatus? { state.withLock { $0.status } }
    var result: String? { state.withLock { $0.result } }
    var isStopped: Bool { state.withLock { $0.stopped } }
}
