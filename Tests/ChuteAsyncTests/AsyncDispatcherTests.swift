import ChuteAsync
import ChuteCore
import ChuteStore
import ChuteTestSupport
import ChuteWorkers
import Foundation
import Logging
import Synchronization
import Testing

/// The asynchronous pipeline end to end on real parts (a SQLite file, worker pools running the
/// fault-injection handler), driven by a virtual clock: minutes of retries take milliseconds.
@Suite struct AsyncDispatcherTests {
    static let t0: Int64 = 1_700_000_000_000

    final class Directory: AsyncFunctionDirectory, @unchecked Sendable {
        var functions: [String: AsyncFunction] = [:]
        func function(named name: String) -> AsyncFunction? { functions[name] }
    }

    struct Harness {
        let store: SQLiteAsyncEventStore
        let directory = Directory()
        let dispatcher: AsyncDispatcher
        var pools: [any FunctionPool] = []

        init(messaging: (any MessagingDirectory)? = nil) throws {
            store = try SQLiteAsyncEventStore(path: Fixtures.scratch + "/async-\(RequestID.make()).sqlite")
            dispatcher = AsyncDispatcher(store: store, directory: directory, owner: "test-host", messaging: messaging)
        }

        mutating func add(_ name: String, isolation: Isolation = .thread, config: EventInvokeConfig = EventInvokeConfig(),
                          deadLetter: String? = nil) async throws {
            var logger = Logger(label: "chute.tests")
            logger.logLevel = .critical
            let configuration = FunctionConfiguration(name: name, library: Fixtures.faultsLibrary, isolation: isolation, concurrency: 2,
                                                      prewarmInstances: isolation == .process ? 1 : 0)
            let pool = try await FunctionPools.start(configuration, logger: logger)
            pools.append(pool)
            directory.functions[name] = AsyncFunction(name: name, arn: configuration.arn, pool: pool, concurrency: 2,
                                                      invokeConfig: config, deadLetterTarget: deadLetter)
        }

        func shutdown() async { for pool in pools { await pool.shutdown() } }

        func send(_ payload: String, to function: String, id: String = RequestID.make(), at time: Int64 = AsyncDispatcherTests.t0) async throws {
            try await dispatcher.accept([AsyncEvent(requestID: id, functionName: function, payload: Array(payload.utf8), receivedAtMilliseconds: time)])
        }

        /// A day after the virtual start: every virtual-clock record is visible, none past retention.
        static let readingTime = AsyncDispatcherTests.t0 + 86_400_000

        func records(in queue: String) async throws -> [[String: Any]] {
            try await store.receive(from: queue, limit: 100, visibilityMilliseconds: 60_000, now: Self.readingTime).map { message in
                try JSONSerialization.jsonObject(with: Data(message.message.body)) as? [String: Any] ?? [:]
            }
        }
    }

    static func queueARN(_ name: String) -> String { "arn:aws:sqs:us-east-1:000000000000:\(name)" }

    @Test func aFailingEventIsRetriedThenRecordedInItsDestinationAndDeadLetterQueue() async throws {
        var harness = try Harness()
        try await harness.store.createQueue("failures")
        try await harness.store.createQueue("dlq")
        try await harness.add("failing", config: EventInvokeConfig(onFailure: Self.queueARN("failures")), deadLetter: Self.queueARN("dlq"))
        try await harness.send(#"{"action":"error","text":"card declined"}"#, to: "failing", id: "evt-1")

        #expect(try await harness.dispatcher.runDue(now: Self.t0) == 1)
        #expect(try await harness.dispatcher.runDue(now: Self.t0 + 59_999) == 0)
        #expect(try await harness.dispatcher.runDue(now: Self.t0 + 60_000) == 1)
        #expect(try await harness.dispatcher.runDue(now: Self.t0 + 179_999) == 0)
        #expect(try await harness.dispatcher.runDue(now: Self.t0 + 180_000) == 1)
        #expect(try await harness.dispatcher.runDue(now: Self.t0 + 10_000_000) == 0)

        let records = try await harness.records(in: "failures")
        #expect(records.count == 1)
        let record = try #require(records.first)
        let context = try #require(record["requestContext"] as? [String: Any])
        #expect(context["requestId"] as? String == "evt-1")
        #expect(context["condition"] as? String == "RetriesExhausted")
        #expect(context["approximateInvokeCount"] as? Int == 3)
        #expect(context["functionArn"] as? String == "arn:aws:lambda:us-east-1:000000000000:function:failing:$LATEST")
        #expect((record["responseContext"] as? [String: Any])?["functionError"] as? String == "Handled")
        #expect((record["responsePayload"] as? [String: Any])?["errorMessage"] as? String == "card declined")
        #expect((record["requestPayload"] as? [String: Any])?["action"] as? String == "error")

        let dead = try await harness.store.receive(from: "dlq", limit: 10, visibilityMilliseconds: 1, now: Harness.readingTime)
        #expect(dead.map { String(decoding: $0.message.body, as: UTF8.self) } == [#"{"action":"error","text":"card declined"}"#])
        #expect(dead.first?.message.attributes.first { $0.name == "RequestID" }?.value == "evt-1")
        #expect(try await harness.store.failedEvents(limit: 10).map(\.event.requestID) == ["evt-1"])
        #expect(harness.dispatcher.statistics.invocations == 3)
        #expect(harness.dispatcher.statistics.errors == 3)
        await harness.shutdown()
    }

    @Test func aCrashIsAnUnhandledFailureAndAgesOutAhead() async throws {
        var harness = try Harness()
        try await harness.store.createQueue("failures")
        try await harness.add("crashing", isolation: .process,
                              config: EventInvokeConfig(maximumEventAgeSeconds: 60, onFailure: Self.queueARN("failures")))
        try await harness.send("segfault", to: "crashing")
        #expect(try await harness.dispatcher.runDue(now: Self.t0 + 1_000) == 1)
        let record = try #require(try await harness.records(in: "failures").first)
        let context = try #require(record["requestContext"] as? [String: Any])
        #expect(context["condition"] as? String == "EventAgeExceeded")
        #expect(context["approximateInvokeCount"] as? Int == 1)
        #expect((record["responseContext"] as? [String: Any])?["functionError"] as? String == "Unhandled")
        #expect((record["responsePayload"] as? [String: Any])?["errorType"] as? String == "Runtime.ExitError")
        // A payload that is not JSON is carried as a string.
        #expect(record["requestPayload"] as? String == "segfault")
        await harness.shutdown()
    }

    @Test func aSuccessRecordCanInvokeAnotherFunction() async throws {
        var harness = try Harness()
        try await harness.store.createQueue("done")
        try await harness.add("first", config: EventInvokeConfig(onSuccess: "arn:aws:lambda:us-east-1:000000000000:function:second"))
        try await harness.add("second", config: EventInvokeConfig(onSuccess: Self.queueARN("done")))
        try await harness.send(#"{"action":"echo"}"#, to: "first", id: "origin")
        #expect(try await harness.dispatcher.runDue(now: Self.t0) == 1)
        #expect(try await harness.dispatcher.runDue(now: Self.t0) == 1)  // the follow-up event for "second"
        let record = try #require(try await harness.records(in: "done").first)
        #expect((record["requestContext"] as? [String: Any])?["condition"] as? String == "Success")
        // second echoed the first record, which arrived as its event.
        let firstRecord = try #require(record["requestPayload"] as? [String: Any])
        #expect((firstRecord["requestContext"] as? [String: Any])?["requestId"] as? String == "origin")
        #expect(record["responsePayload"] as? [String: Any] != nil)
        await harness.shutdown()
    }

    final class OneTopic: MessagingDirectory, @unchecked Sendable {
        let topic: Topic
        init(_ topic: Topic) { self.topic = topic }
        func topic(arn: String) -> RoutableTopic? { arn == topic.arn ? RoutableTopic(topic) : nil }
        func eventBus(arn: String) -> RoutableBus? { nil }
    }

    @Test func aChainThatFansOutAtEveryHopStaysWithinOneRequestsBudget() async throws {
        // A function whose records go to a topic with four subscriptions back to the function:
        // each hop multiplies by four, and sixteen hops would make 4¹⁶ events. The whole tree
        // shares the one budget of the request that started it: here 300 deliveries (a client's
        // event starts with FanOutBudget.deliveries), kept in the store with the event.
        let topicARN = "arn:aws:sns:us-east-1:000000000000:again"
        let function = "arn:aws:lambda:us-east-1:000000000000:function:fan"
        let topic = Topic(name: "again", arn: topicARN, subscriptions: (0..<4).map {
            TopicSubscription(arn: "\(topicARN):s\($0)", topicARN: topicARN, kind: .lambda, endpoint: function)
        })
        var harness = try Harness(messaging: OneTopic(topic))
        try await harness.add("fan", config: EventInvokeConfig(onSuccess: topicARN))
        var root = AsyncEvent(requestID: "root", functionName: "fan", payload: Array(#"{"action":"count"}"#.utf8), receivedAtMilliseconds: Self.t0)
        root.chainAllowance = 300
        try await harness.dispatcher.accept([root])
        while try await harness.dispatcher.runDue(now: Self.t0) > 0 {}
        let invocations = harness.dispatcher.statistics.invocations
        #expect(invocations <= 301)
        #expect(invocations > 100)  // the budget is used, not refused at once
        await harness.shutdown()
    }

    @Test func resultsTheStoreRefusesEveryTimeEndAsAFailedEventNotALoop() async throws {
        // The store takes everything but this event's normal results (as with a record past its
        // limits): retried, released, run again, and after three rounds kept as failed.
        let sqlite = try SQLiteAsyncEventStore(path: Fixtures.scratch + "/refusing-\(RequestID.make()).sqlite")
        let store = RefusingSettleStore(store: sqlite) { settlements in
            settlements.contains { if case .finished(let finished) = $0.outcome { finished.condition == .success } else { false } }
        }
        let directory = Directory()
        let dispatcher = AsyncDispatcher(store: store, directory: directory, owner: "test-host", settleRetryDelays: [.milliseconds(1)])
        var logger = Logger(label: "chute.tests")
        logger.logLevel = .critical
        let configuration = FunctionConfiguration(name: "echo", library: Fixtures.faultsLibrary, isolation: .thread, concurrency: 1)
        let pool = try await FunctionPools.start(configuration, logger: logger)
        directory.functions["echo"] = AsyncFunction(name: "echo", arn: configuration.arn, pool: pool, concurrency: 1)
        try await dispatcher.accept([AsyncEvent(requestID: "poison", functionName: "echo", payload: Array(#"{"action":"echo"}"#.utf8),
                                                receivedAtMilliseconds: Self.t0)])
        var rounds = 0
        while try await dispatcher.runDue(now: Self.t0) > 0 { rounds += 1 }
        #expect(rounds == AsyncDispatcher.maximumUnsettledRounds)
        #expect(dispatcher.statistics.invocations == AsyncDispatcher.maximumUnsettledRounds)
        let failed = try #require(try await sqlite.failedEvent(requestID: "poison"))
        #expect(failed.record.contains("Chute.ResultsNotStored"))
        await pool.shutdown()
    }

    @Test func aDestinationLoopStopsAfterSixteenFunctions() async throws {
        var harness = try Harness()
        try await harness.add("loop", config: EventInvokeConfig(onSuccess: "arn:aws:lambda:us-east-1:000000000000:function:loop"))
        // "count" answers with a small number (an echo would double each record's size per hop, up
        // to the response limit); the faults handler finds the action nested in each record.
        try await harness.send(#"{"action":"count"}"#, to: "loop")
        var runs = 0
        while try await harness.dispatcher.runDue(now: Self.t0) > 0 { runs += 1 }
        #expect(runs == 17)  // the event, then 16 hops through the destination
        let kept = try await harness.store.undeliverableRecords(limit: 10)
        #expect(kept.count == 1)
        #expect(kept.first?.reason.contains("after 16 functions") == true)
        #expect(harness.dispatcher.statistics.destinationDeliveryFailures == 1)
        await harness.shutdown()
    }

    @Test func aMissingQueueKeepsTheRecordAndCountsTheFailure() async throws {
        var harness = try Harness()
        try await harness.add("f", config: EventInvokeConfig(onSuccess: Self.queueARN("nowhere")))
        try await harness.send("echo", to: "f")
        try await harness.dispatcher.runDue(now: Self.t0)
        let kept = try await harness.store.undeliverableRecords(limit: 10)
        #expect(kept.map(\.destination) == ["nowhere"])
        #expect(harness.dispatcher.statistics.destinationDeliveryFailures == 1)
        #expect(harness.dispatcher.statistics.deadLetterErrors == 0)
        await harness.shutdown()
    }

    @Test func aMissingDeadLetterQueueCountsADeadLetterError() async throws {
        var harness = try Harness()
        try await harness.add("f", config: EventInvokeConfig(maximumRetryAttempts: 0), deadLetter: Self.queueARN("no-dlq"))
        try await harness.send(#"{"action":"error","text":"x"}"#, to: "f", id: "dead")
        try await harness.dispatcher.runDue(now: Self.t0)
        #expect(try await harness.store.undeliverableRecords(limit: 10).map(\.destination) == ["no-dlq"])
        #expect(harness.dispatcher.statistics.deadLetterErrors == 1)
        #expect(harness.dispatcher.statistics.destinationDeliveryFailures == 0)
        await harness.shutdown()
    }

    @Test func anEventForAnUnknownFunctionIsKeptAsFailed() async throws {
        let harness = try Harness()
        try await harness.send("echo", to: "ghost", id: "lost")
        try await harness.dispatcher.runDue(now: Self.t0)
        let failed = try await harness.store.failedEvents(limit: 10)
        #expect(failed.map(\.event.requestID) == ["lost"])
        #expect(failed.first?.record.contains("Function not found: ghost") == true)
    }

    @Test func theRunLoopProcessesAcceptedEventsAtOnce() async throws {
        var harness = try Harness()
        try await harness.store.createQueue("done")
        try await harness.add("f", config: EventInvokeConfig(onSuccess: Self.queueARN("done")))
        let dispatcher = harness.dispatcher
        let loop = Task { await dispatcher.run(pollMilliseconds: 10_000) { Int64((Date().timeIntervalSince1970 * 1000).rounded()) } }
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        try await harness.send("echo", to: "f", at: now)
        var delivered = 0
        for _ in 0..<200 where delivered == 0 {
            delivered = try await harness.store.receive(from: "done", limit: 10, visibilityMilliseconds: 60_000, now: now + 60_000).count
            if delivered == 0 { try await Task.sleep(for: .milliseconds(10)) }
        }
        loop.cancel()
        #expect(delivered == 1)
        await harness.shutdown()
    }

    static func wallClock() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    @Test func aSlowFunctionDoesNotHoldUpAnotherOne() async throws {
        var harness = try Harness()
        try await harness.store.createQueue("done")
        try await harness.add("slow")
        try await harness.add("fast", config: EventInvokeConfig(onSuccess: Self.queueARN("done")))
        let dispatcher = harness.dispatcher
        let loop = Task { await dispatcher.run(pollMilliseconds: 10_000, clock: Self.wallClock) }
        // Both of slow's instances are busy for 3 s, with more of its events waiting behind them.
        for index in 0..<6 { try await harness.send("sleep 3000", to: "slow", id: "slow-\(index)", at: Self.wallClock()) }
        try await Task.sleep(for: .milliseconds(200))
        let sent = Self.wallClock()
        for index in 0..<20 { try await harness.send("echo", to: "fast", id: "fast-\(index)", at: Self.wallClock()) }
        var delivered = 0
        while delivered < 20 && Self.wallClock() - sent < 2_500 {
            delivered += try await harness.store.receive(from: "done", limit: 10, visibilityMilliseconds: 600_000, now: Self.wallClock() + 1).count
            if delivered < 20 { try await Task.sleep(for: .milliseconds(10)) }
        }
        // All of fast's records arrived while slow's first attempts were still running.
        #expect(delivered == 20)
        #expect(Self.wallClock() - sent < 2_500)
        loop.cancel()
        await loop.value
        // Stopping let the running attempts finish and gave back the claimed events that had not
        // started: whatever did not run is claimable at once.
        let left = try await harness.store.claim(owner: "next-host", now: Self.wallClock(), limit: 10, leaseMilliseconds: 1_000)
        #expect(left.count + harness.dispatcher.statistics.invocations == 26)
        #expect(left.allSatisfy { $0.functionName == "slow" })
        await harness.shutdown()
    }

    @Test func acceptedEventsGoStraightToTheRunningDispatcherWhileItHasRoom() async throws {
        var harness = try Harness()
        try await harness.store.createQueue("done")
        try await harness.add("f", config: EventInvokeConfig(onSuccess: Self.queueARN("done")))
        // Holds at most 8 events: the rest of a burst must wait in the store for a claim.
        let dispatcher = AsyncDispatcher(store: harness.store, directory: harness.directory, owner: "small-host", claimLimit: 4)
        let loop = Task { await dispatcher.run(pollMilliseconds: 60_000, clock: Self.wallClock) }
        try await Task.sleep(for: .milliseconds(50))
        for index in 0..<24 {
            try await dispatcher.accept([AsyncEvent(requestID: "burst-\(index)", functionName: "f", payload: Array("sleep 50".utf8),
                                                    receivedAtMilliseconds: Self.wallClock())])
        }
        let deadline = Self.wallClock() + 10_000
        while dispatcher.statistics.eventsSettled < 24 && Self.wallClock() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let statistics = dispatcher.statistics
        #expect(statistics.eventsSettled == 24)
        // The first ones were handed over in memory, the others claimed once room came back:
        // the poll (a minute) never had to run.
        #expect(statistics.eventsHandedOver >= 8)
        #expect(statistics.eventsHandedOver < 24)
        let records = try await harness.store.receive(from: "done", limit: 100, visibilityMilliseconds: 60_000, now: Self.wallClock() + 1)
        #expect(records.count == 24)
        loop.cancel()
        await loop.value
        // A stopped dispatcher takes nothing in memory: the event is stored for any host to claim.
        try await dispatcher.accept([AsyncEvent(requestID: "after", functionName: "f", payload: Array("echo".utf8), receivedAtMilliseconds: Self.wallClock())])
        #expect(dispatcher.statistics.eventsHandedOver == statistics.eventsHandedOver)
        #expect(try await harness.store.claim(owner: "next-host", now: Self.wallClock(), limit: 10, leaseMilliseconds: 1_000).map(\.requestID) == ["after"])
        await harness.shutdown()
    }

    @Test func chunksOfManyEventsAreStoredWithEveryRecord() async throws {
        var harness = try Harness()
        try await harness.store.createQueue("done")
        try await harness.add("f", config: EventInvokeConfig(onSuccess: Self.queueARN("done")))
        let events = (0..<200).map { AsyncEvent(requestID: "bulk-\($0)", functionName: "f", payload: Array("echo".utf8), receivedAtMilliseconds: Self.t0) }
        try await harness.dispatcher.accept(events)
        #expect(try await harness.dispatcher.runDue(now: Self.t0) == 200)
        let records = try await harness.store.receive(from: "done", limit: 1_000, visibilityMilliseconds: 60_000, now: Harness.readingTime)
        let ids = Set(records.compactMap { message -> String? in
            let record = try? JSONSerialization.jsonObject(with: Data(message.message.body)) as? [String: Any]
            return (record?["requestContext"] as? [String: Any])?["requestId"] as? String
        })
        #expect(ids == Set(events.map(\.requestID)))
        #expect(harness.dispatcher.statistics.eventsSettled == 200)
        await harness.shutdown()
    }
}
