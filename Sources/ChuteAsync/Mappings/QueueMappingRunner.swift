import ChuteCore
import ChuteStore
import ChuteWorkers
import Logging
import Synchronization

/// Runs a queue mapping (SQS-like) on this host: receives batches (up to the batch size, waiting
/// up to the batching window to fill one), invokes the function with up to its concurrency of
/// batches at once, and deletes what was processed. Whatever is not deleted becomes visible again
/// after the queue's visibility timeout, and the queue's redrive policy moves messages received
/// too often to its dead-letter queue: a queue mapping has no retry limit or destination of its own.
final class QueueMappingRunner: Sendable {
    let mapping: EventSourceMapping
    let queueName: String
    let context: MappingContext
    let digests: QueueDigests
    private let signal = WakeSignal()
    private let state = Mutex<(inFlight: Int, result: String?)>((0, nil))

    init(mapping: EventSourceMapping, queueName: String, context: MappingContext, digests: QueueDigests) {
        self.mapping = mapping
        self.queueName = queueName
        self.context = context
        self.digests = digests
    }

    var batchesInFlight: Int { state.withLock { $0.inFlight } }
    var lastProcessingResult: String? { state.withLock { $0.result } }

    /// Messages were sent to the queue: look at once.
    func messagesSent() { signal.wake() }

    func run() async {
        let logger = {
            var logger = context.logger
            logger[metadataKey: "mapping"] = "\(mapping.uuid)"
            return logger
        }()
        let filters = mapping.settings.filterPatterns.compactMap { try? EventPattern($0) }
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                guard let function = context.directory.function(named: mapping.functionName) else {
                    state.withLock { $0.result = "PROBLEM: the function \(mapping.functionName) does not exist" }
                    await signal.sleep(milliseconds: 1_000)
                    continue
                }
                guard batchesInFlight < max(1, function.effectiveConcurrency) else {
                    await signal.sleep(milliseconds: 1_000)  // a finishing batch wakes the loop
                    continue
                }
                let messages: [ReceivedMessage]
                do {
                    messages = try await gather()
                } catch {
                    logger.error("cannot receive from the queue: \(error)")
                    state.withLock { $0.result = "PROBLEM: cannot receive from the queue \(queueName): \(error)" }
                    await signal.sleep(milliseconds: 1_000)
                    continue
                }
                guard !messages.isEmpty else {
                    await signal.sleep(milliseconds: context.idlePollMilliseconds)
                    continue
                }
                state.withLock { $0.inFlight += 1 }
                group.addTask { [self] in
                    await process(messages, function: function, filters: filters, logger: logger)
                    state.withLock { $0.inFlight -= 1 }
                    signal.wake()
                }
            }
        }
    }

    /// A batch's messages stay under Lambda's 6 MB invocation payload.
    static let maximumBatchBytes = 6 * 1_048_576

    /// Receives up to a batch, waiting up to the batching window for it to fill. Messages past
    /// 6 MB are handed back to the queue at once, for the next batch.
    private func gather() async throws -> [ReceivedMessage] {
        let settings = mapping.settings
        let deadline = context.clock() + Int64(settings.maximumBatchingWindowSeconds) * 1000
        var messages: [ReceivedMessage] = []
        var bytes = 0
        while messages.count < settings.batchSize && bytes < Self.maximumBatchBytes {
            let limit = min(settings.batchSize - messages.count, 100)
            let received = try await context.store.receive(from: queueName, limit: limit, visibilityMilliseconds: nil, now: context.clock())
            var full = false
            for message in received {
                let size = message.message.body.count + 512  // the body and its record's other fields
                if full || (!messages.isEmpty && bytes + size > Self.maximumBatchBytes) {
                    full = true
                    _ = try? await context.store.changeVisibility(in: queueName, receiptHandle: message.receiptHandle, visibilityMilliseconds: 0,
                                                                  now: context.clock())
                    continue
                }
                messages.append(message)
                bytes += size
            }
            if full { break }
            if received.count == limit { continue }  // a full receive: more may be waiting
            let now = context.clock()
            if messages.isEmpty || now >= deadline || Task.isCancelled { break }
            await signal.sleep(milliseconds: min(50, deadline - now))
        }
        return messages
    }

    private func process(_ received: [ReceivedMessage], function: AsyncFunction, filters: [EventPattern], logger: Logger) async {
        // Messages no filter matches are deleted unprocessed, as Lambda does.
        let (kept, filtered) = received.reduce(into: ([ReceivedMessage](), [ReceivedMessage]())) { split, message in
            if SQSEvent.passes(message.message.body, filters) { split.0.append(message) } else { split.1.append(message) }
        }
        await delete(filtered, logger: logger)
        guard !kept.isEmpty else { return }
        let queueARN = EventSource.queueARN(queueName, region: context.region, account: context.account)
        let event = SQSEvent.json(kept.map(eventMessage), queueARN: queueARN, region: context.region, senderID: context.account)
        let invocation = Invocation(attempt: kept.map(\.receiveCount).max() ?? 1, payload: Array(event.utf8))
        let processed: [ReceivedMessage]
        var failed = true
        switch await function.pool.invoke(invocation) {
        case .throttled(let throttle):
            // Not run: back in the queue at once rather than after the visibility timeout.
            logger.notice("batch throttled; its messages return to the queue", metadata: ["reason": "\(throttle)"])
            for message in kept {
                _ = try? await context.store.changeVisibility(in: queueName, receiptHandle: message.receiptHandle, visibilityMilliseconds: 0,
                                                              now: context.clock())
            }
            processed = []
        case .completed(let report):
            switch report.outcome {
            case .success(let response) where mapping.settings.reportBatchItemFailures:
                switch BatchItemFailures.reported(in: response, identifiers: Set(kept.map(\.messageID))) {
                case .none: processed = kept; failed = false
                case .items(let failedIDs): processed = kept.filter { !failedIDs.contains($0.messageID) }
                case .wholeBatch: processed = []
                }
            case .success:
                processed = kept
                failed = false
            case .handled(let error), .unhandled(let error):
                logger.info("batch failed; its messages return after the visibility timeout", metadata: [
                    "errorType": "\(error.errorType)", "messages": "\(kept.count)"])
                processed = []
            }
        }
        state.withLock { $0.result = failed ? "PROBLEM: function error" : "OK" }
        let now = context.clock()
        let age = now - (kept.map(\.sentAtMilliseconds).min() ?? now)
        context.metrics.batchFinished(mapping.uuid, function: mapping.functionName, records: processed.count, failed: failed,
                                      iteratorAgeMilliseconds: age)
        await delete(processed, logger: logger)
    }

    private func delete(_ messages: [ReceivedMessage], logger: Logger) async {
        for message in messages {
            do {
                try await context.store.delete(from: queueName, receiptHandle: message.receiptHandle)
            } catch {
                logger.error("cannot delete a processed message; it will be processed again", metadata: [
                    "messageId": "\(message.messageID)", "error": "\(error)"])
            }
        }
    }

    private func eventMessage(_ message: ReceivedMessage) -> SQSEvent.Message {
        SQSEvent.Message(messageID: message.messageID, receiptHandle: message.receiptHandle, body: message.message.body,
                         attributes: message.message.attributes, receiveCount: message.receiveCount,
                         sentAtMilliseconds: message.sentAtMilliseconds, firstReceivedAtMilliseconds: message.firstReceivedAtMilliseconds,
                         md5OfBody: digests.body(message.message.body),
                         md5OfMessageAttributes: message.message.attributes.isEmpty ? nil : digests.attributes(message.message.attributes))
    }
}

/// SQS's MD5 digests of a message's body and attributes, which the event carries; the host gives
/// them (they need a hash library the pipeline does not link).
public struct QueueDigests: Sendable {
    public var body: @Sendable ([UInt8]) -> String
    public var attributes: @Sendable ([MessageAttribute]) -> String

    public init(body: @escaping @Sendable ([UInt8]) -> String, attributes: @escaping @Sendable ([MessageAttribute]) -> String) {
        self.body = body
        self.attributes = attributes
    }
}
