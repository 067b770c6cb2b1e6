import ChuteAsync
import ChuteCore
import ChuteStore
import ChuteWorkers
import Foundation

/// Records and messages into a topic with three subscribers (three built-in queues: two with SNS's
/// envelope, one raw), committed with what caused them, on the embedded store.
extension ChuteBench {
    static let fanOutTopic = "arn:aws:sns:us-east-1:000000000000:results"

    final class OneTopic: MessagingDirectory, @unchecked Sendable {
        let topic = RoutableTopic(Topic(name: "results", arn: ChuteBench.fanOutTopic, subscriptions: [
            TopicSubscription(arn: "\(ChuteBench.fanOutTopic):1", topicARN: ChuteBench.fanOutTopic, kind: .sqs,
                              endpoint: "arn:aws:sqs:us-east-1:000000000000:copy-1"),
            TopicSubscription(arn: "\(ChuteBench.fanOutTopic):2", topicARN: ChuteBench.fanOutTopic, kind: .sqs,
                              endpoint: "arn:aws:sqs:us-east-1:000000000000:copy-2", rawMessageDelivery: true),
            TopicSubscription(arn: "\(ChuteBench.fanOutTopic):3", topicARN: ChuteBench.fanOutTopic, kind: .sqs,
                              endpoint: "arn:aws:sqs:us-east-1:000000000000:copy-3"),
        ]))
        func topic(arn: String) -> RoutableTopic? { arn == ChuteBench.fanOutTopic ? topic : nil }
        func eventBus(arn: String) -> RoutableBus? { nil }
    }

    static let fanOutQueues = ["copy-1", "copy-2", "copy-3"]

    func measureFanOut(_ library: String, _ report: inout BenchReport) async throws {
        report.line("# chute-bench --suite fanout: \(events) per run, \(rounds) rounds, a topic with 3 queue subscribers, SQLite (WAL, synchronous=FULL)")
        report.line("")
        report.line("| what enters the topic | entered/s (median of \(rounds)) | deliveries/s to the 3 subscribers |")
        report.line("|---|---|---|")
        var published: [Double] = []
        var records: [Double] = []
        for _ in 0..<rounds {
            published.append(try await publishRate())
            records.append(try await recordRate(library))
        }
        let publishedRate = Measure.median(published), recordRate = Measure.median(records)
        report.line("| messages published in batches of 10 (as SNS PublishBatch), 8 publishers | \(Measure.rate(publishedRate)) | \(Measure.rate(3 * publishedRate)) |")
        report.line("| invocation records of a no-op function (thread isolation) whose OnSuccess is the topic, accepted in batches of 1,000 | \(Measure.rate(recordRate)) | \(Measure.rate(3 * recordRate)) |")
        report.line("")
    }

    private func fanOutStore() async throws -> (SQLiteAsyncEventStore, String) {
        let path = NSTemporaryDirectory() + "chute-bench-fanout-\(RequestID.make()).sqlite"
        let store = try SQLiteAsyncEventStore(path: path)
        for queue in Self.fanOutQueues { try await store.createQueue(queue) }
        return (store, path)
    }

    private func checkDelivered(_ store: SQLiteAsyncEventStore, _ expected: Int) async throws {
        for queue in Self.fanOutQueues {
            let count = try await store.queue(queue, now: Self.wallMilliseconds())?.visibleMessages ?? 0
            guard count == expected else { throw BenchError("expected \(expected) messages in \(queue), found \(count)") }
        }
    }

    /// Publishes `events` messages, 10 per transaction, from 8 concurrent publishers.
    private func publishRate() async throws -> Double {
        let (store, path) = try await fanOutStore()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let router = MessageRouter(directory: OneTopic())
        let topic = OneTopic().topic
        let total = events, publishers = 8, batch = 10
        let start = Measure.now()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for publisher in 0..<publishers {
                group.addTask {
                    var next = publisher * batch
                    while next < total {
                        let now = Self.wallMilliseconds()
                        var plan = DeliveryPlan()
                        for _ in next..<min(total, next + batch) {
                            let message = PublishedMessage(messageID: RequestID.makeTimeOrdered(milliseconds: now), topicARN: Self.fanOutTopic,
                                                           message: #"{"order":42}"#, timestampMilliseconds: now)
                            router.publish(message, to: topic, origin: .init(requestID: message.messageID, record: message.message),
                                           now: now, into: &plan)
                        }
                        try await store.deliver(plan, now: now)
                        next += publishers * batch
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = Double(Measure.now() - start) / 1e9
        try await checkDelivered(store, total)
        return Double(total) / seconds
    }

    /// Runs `events` events of the no-op function whose OnSuccess destination is the topic.
    private func recordRate(_ library: String) async throws -> Double {
        let (store, path) = try await fanOutStore()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pool = try await pool(library, .thread, concurrency: 2)
        let function = AsyncFunction(name: "noop", arn: "arn:aws:lambda:us-east-1:000000000000:function:noop", pool: pool, concurrency: 2,
                                     invokeConfig: EventInvokeConfig(onSuccess: Self.fanOutTopic))
        let dispatcher = AsyncDispatcher(store: store, directory: Directory(function), owner: "bench", claimLimit: 1024, messaging: OneTopic())
        let runner = Task { await dispatcher.run(pollMilliseconds: 5, clock: Self.wallMilliseconds) }
        let total = events, callers = 4, batch = 1_000
        let start = Measure.now()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<callers {
                group.addTask {
                    var next = caller * batch
                    while next < total {
                        let now = Self.wallMilliseconds()
                        try await dispatcher.accept((next..<min(total, next + batch)).map { _ in
                            AsyncEvent(requestID: RequestID.makeTimeOrdered(milliseconds: now), functionName: "noop", payload: Array("{}".utf8),
                                       receivedAtMilliseconds: now)
                        })
                        next += callers * batch
                    }
                }
            }
            try await group.waitForAll()
        }
        while dispatcher.statistics.eventsSettled < total { try await Task.sleep(for: .milliseconds(2)) }
        let seconds = Double(Measure.now() - start) / 1e9
        runner.cancel()
        await runner.value
        await pool.shutdown()
        try await checkDelivered(store, total)
        return Double(total) / seconds
    }
}
