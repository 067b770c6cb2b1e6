import ChuteCore
import ChuteStore
import Testing

/// What every host store must do, run against each store: SQLite in a fresh file, PostgreSQL in a
/// fresh schema of the test cluster (`StoreKind`).
@Suite struct AsyncEventStoreConformance {
    let t0: Int64 = 1_700_000_000_000

    func event(_ id: String, at time: Int64? = nil) -> AsyncEvent {
        AsyncEvent(requestID: id, functionName: "f", payload: Array(#"{"id":"\#(id)"}"#.utf8), receivedAtMilliseconds: time ?? t0)
    }

    @Test(arguments: StoreKind.all) func claimsAreLeasedAndTakenOverAfterExpiry(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.accept([event("a"), event("b"), event("c")])
        let first = try await store.claim(owner: "host-1", now: t0, limit: 10, leaseMilliseconds: 30_000)
        #expect(Set(first.map(\.requestID)) == ["a", "b", "c"])
        #expect(try await store.claim(owner: "host-2", now: t0 + 1_000, limit: 10, leaseMilliseconds: 30_000).isEmpty)
        let takenOver = try await store.claim(owner: "host-2", now: t0 + 30_001, limit: 10, leaseMilliseconds: 30_000)
        #expect(Set(takenOver.map(\.requestID)) == ["a", "b", "c"])
        // The first host lost its leases: its results are not applied.
        var late = first[0]
        late.invokeCount = 1
        let applied = try await store.settle([Settlement(event: late, owner: "host-1", outcome: .finished(FinishedEvent(condition: .success, record: "{}")))], now: t0).applied
        #expect(applied == 0)
        #expect(try await store.settle([Settlement(event: takenOver[0], owner: "host-2", outcome: .finished(FinishedEvent(condition: .success, record: "{}")))], now: t0).applied == 1)
    }

    @Test(arguments: StoreKind.all) func anEventKeepsItsChainDepthAndAllowance(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        var chained = event("chained")
        chained.chainDepth = 7
        chained.chainAllowance = 2_499
        var spent = event("spent")
        spent.chainDepth = 16
        spent.chainAllowance = 0
        var retried = event("retried")  // a row of its own, not a batch row
        retried.invokeCount = 1
        retried.chainDepth = 3
        retried.chainAllowance = 12
        try await store.accept([chained, spent, event("client"), retried])
        let claimed = try await store.claim(owner: "h", now: t0, limit: 10, leaseMilliseconds: 10_000)
        let byID = Dictionary(uniqueKeysWithValues: claimed.map { ($0.requestID, $0) })
        #expect(byID["chained"]?.chainDepth == 7 && byID["chained"]?.chainAllowance == 2_499)
        #expect(byID["spent"]?.chainDepth == 16 && byID["spent"]?.chainAllowance == 0)
        #expect(byID["client"]?.chainDepth == 0 && byID["client"]?.chainAllowance == nil)
        #expect(byID["retried"]?.chainDepth == 3 && byID["retried"]?.chainAllowance == 12)
    }

    @Test(arguments: StoreKind.all) func claimsCanSkipFunctionsAndGiveLeasesBack(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        let other = AsyncEvent(requestID: "g1", functionName: "g", payload: Array("{}".utf8), receivedAtMilliseconds: t0)
        try await store.accept([event("f1"), other, event("f2")])
        let skipping = try await store.claim(owner: "host-1", now: t0, limit: 10, leaseMilliseconds: 60_000, excluding: ["f"])
        #expect(skipping.map(\.requestID) == ["g1"])
        let rest = try await store.claim(owner: "host-1", now: t0, limit: 10, leaseMilliseconds: 60_000)
        #expect(Set(rest.map(\.requestID)) == ["f1", "f2"])
        // Given back: claimable at once by anyone, long before the lease would have expired.
        try await store.release(["f1", "g1"], owner: "host-1")
        try await store.release(["f2"], owner: "not-the-holder")
        let again = try await store.claim(owner: "host-2", now: t0 + 1, limit: 10, leaseMilliseconds: 60_000)
        #expect(Set(again.map(\.requestID)) == ["f1", "g1"])
    }

    @Test(arguments: StoreKind.all) func claimsTakeTheOldestDueEventsAcrossFunctionsAndSkipALeftOutBacklog(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        func due(_ id: String, _ function: String, _ offset: Int64) -> AsyncEvent {
            var event = AsyncEvent(requestID: id, functionName: function, payload: Array("{}".utf8), receivedAtMilliseconds: t0)
            event.dueAtMilliseconds = t0 + offset
            return event
        }
        try await store.accept((0..<500).map { due("busy-\($0)", "busy", Int64($0)) })
        try await store.accept([due("a-late", "a", 30), due("b-early", "b", 10), due("a-early", "a", 5), due("b-later", "b", 20),
                                due("c-future", "c", 1_000)])
        let claimed = try await store.claim(owner: "h", now: t0 + 100, limit: 3, leaseMilliseconds: 10_000, excluding: ["busy"])
        #expect(claimed.map(\.requestID) == ["a-early", "b-early", "b-later"])
        #expect(try await store.claim(owner: "h", now: t0 + 100, limit: 10, leaseMilliseconds: 10_000, excluding: ["busy"])
            .map(\.requestID) == ["a-late"])
        #expect(try await store.claim(owner: "h", now: t0 + 100, limit: 10, leaseMilliseconds: 10_000).count == 10)
    }

    @Test(arguments: StoreKind.all) func claimsTakePartOfALargeAcceptAndPartOfItCanBeGivenBack(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.accept((0..<10).map { event("e\($0)") })
        let first = try await store.claim(owner: "h1", now: t0, limit: 3, leaseMilliseconds: 60_000)
        #expect(Set(first.map(\.requestID)) == ["e0", "e1", "e2"])
        let rest = try await store.claim(owner: "h1", now: t0, limit: 100, leaseMilliseconds: 60_000)
        #expect(Set(rest.map(\.requestID)) == Set((3..<10).map { "e\($0)" }))
        // Two of the first three are given back while the third still runs.
        try await store.release(["e0", "e1"], owner: "h1")
        #expect(Set(try await store.claim(owner: "h2", now: t0 + 1, limit: 100, leaseMilliseconds: 60_000).map(\.requestID)) == ["e0", "e1"])
        let done = { (item: AsyncEvent, owner: String) in
            Settlement(event: item, owner: owner, outcome: .finished(FinishedEvent(condition: .success, record: "{}")))
        }
        let e2 = try #require(first.first { $0.requestID == "e2" })
        #expect(try await store.settle([done(e2, "h1")], now: t0 + 2).applied == 1)
        #expect(try await store.settle([done(e2, "h1")], now: t0 + 3).applied == 0)  // only once
        #expect(try await store.claim(owner: "h3", now: t0 + 120_000, limit: 100, leaseMilliseconds: 60_000).count == 9)
    }

    @Test(arguments: StoreKind.all) func recordsDeliveredBySettlesAreCountedReceivedAndAgedOutLikeSentMessages(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        var attributes = QueueAttributes()
        attributes.messageRetentionSeconds = 600
        try await store.createQueue("records", attributes: attributes, now: t0)
        try await store.createQueue("dead", attributes: attributes, now: t0)
        try await store.accept((0..<300).map { event("r\($0)") })
        let claimed = try await store.claim(owner: "h", now: t0, limit: 300, leaseMilliseconds: 60_000)
        #expect(claimed.count == 300)
        let settled = try await store.settle(claimed.map { item in
            let record = #"{"requestId":"\#(item.requestID)"}"#
            let attribute = MessageAttribute(name: "RequestID", dataType: "String", value: item.requestID)
            return Settlement(event: item, owner: "h", outcome: .finished(FinishedEvent(condition: .success, record: record, deliveries: [
                QueueDelivery(queue: "records", message: QueueMessage(body: Array(record.utf8))),
                QueueDelivery(queue: "dead", message: QueueMessage(body: item.payload, attributes: [attribute]), purpose: .deadLetter),
            ])))
        }, now: t0 + 1)
        #expect(settled.applied == 300)
        #expect(try await store.queue("records", now: t0 + 1)?.visibleMessages == 300)
        let some = try await store.receive(from: "records", limit: 10, visibilityMilliseconds: 30_000, now: t0 + 2)
        #expect(some.count == 10)
        var state = try #require(try await store.queue("records", now: t0 + 2))
        #expect((state.visibleMessages, state.inFlightMessages) == (290, 10))
        #expect(try await store.delete(from: "records", receiptHandle: some[0].receiptHandle))
        var bodies = Set(some.map { String(decoding: $0.message.body, as: UTF8.self) })
        while case let batch = try await store.receive(from: "records", limit: 10, visibilityMilliseconds: 30_000, now: t0 + 3), !batch.isEmpty {
            bodies.formUnion(batch.map { String(decoding: $0.message.body, as: UTF8.self) })
        }
        #expect(bodies == Set(claimed.map { #"{"requestId":"\#($0.requestID)"}"# }))
        state = try #require(try await store.queue("records", now: t0 + 3))
        #expect((state.visibleMessages, state.inFlightMessages) == (0, 299))
        // Dead-letter messages keep their attributes.
        let dead = try #require(try await store.receive(from: "dead", limit: 1, visibilityMilliseconds: 30_000, now: t0 + 4).first)
        #expect(dead.message.attributes.map(\.name) == ["RequestID"])
        #expect(dead.message.body == claimed.first { $0.requestID == dead.message.attributes[0].value }?.payload)
        // Purged and aged out as a whole.
        try await store.purgeQueue("dead")
        #expect(try await store.queue("dead", now: t0 + 5)?.visibleMessages == 0)
        #expect(try await store.queue("records", now: t0 + 600_001)?.inFlightMessages == 0)
    }

    @Test(arguments: StoreKind.all) func eventsAcceptedWithALeaseAreHeldByItsOwner(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.accept([event("before")])
        let lease = EventLease(owner: "host-1", untilMilliseconds: t0 + 30_000)
        let stored = try await store.accept([event("l1"), event("l2"), event("before")], lease: lease)
        #expect(stored.map(\.requestID) == ["l1", "l2"])  // "before" was already there, for anyone
        #expect(try await store.claim(owner: "host-2", now: t0 + 1_000, limit: 10, leaseMilliseconds: 30_000).map(\.requestID) == ["before"])
        let done = Settlement(event: stored[0], owner: "host-1", outcome: .finished(FinishedEvent(condition: .success, record: "{}")))
        #expect(try await store.settle([done], now: t0 + 2_000).applied == 1)
        // The owner died before running l2: once its lease expires another host takes it over.
        #expect(try await store.claim(owner: "host-2", now: t0 + 29_000, limit: 10, leaseMilliseconds: 30_000).isEmpty)
        #expect(try await store.claim(owner: "host-2", now: t0 + 30_001, limit: 10, leaseMilliseconds: 30_000).map(\.requestID) == ["l2"])
    }

    @Test(arguments: StoreKind.all) func receivedMessagesCanBeDeletedFromALongQueue(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.createQueue("long")
        try await store.send((0..<500).map { QueueMessage(body: Array("m\($0)".utf8)) }, to: "long", now: t0)
        let received = try await store.receive(from: "long", limit: 10, visibilityMilliseconds: 30_000, now: t0)
        #expect(received.map { String(decoding: $0.message.body, as: UTF8.self) } == (0..<10).map { "m\($0)" })
        for message in received { #expect(try await store.delete(from: "long", receiptHandle: message.receiptHandle)) }
        let counts = try #require(try await store.queue("long", now: t0))
        #expect(counts.visibleMessages == 490)
        #expect(counts.inFlightMessages == 0)
        #expect(counts.delayedMessages == 0)
    }

    @Test(arguments: StoreKind.all) func acceptingTheSameRequestTwiceKeepsOne(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.accept([event("dup")])
        try await store.accept([event("dup")])
        #expect(try await store.claim(owner: "h", now: t0, limit: 10, leaseMilliseconds: 1_000).count == 1)
    }

    @Test(arguments: StoreKind.all) func aRescheduledEventKeepsItsHistory(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.accept([event("r")])
        var claimed = try #require(try await store.claim(owner: "h", now: t0, limit: 1, leaseMilliseconds: 10_000).first)
        let failure = AttemptFailure(kind: .unhandled, error: FunctionError(errorType: "Sandbox.Timedout", errorMessage: "late", stackTrace: ["a", "b"]))
        let step = AsyncRetryPolicy.next(after: .functionError(failure), for: &claimed, now: t0 + 500, config: EventInvokeConfig())
        #expect(step == .runAgain(atMilliseconds: t0 + 60_500))
        #expect(try await store.settle([Settlement(event: claimed, owner: "h", outcome: .runAgain)], now: t0).applied == 1)
        #expect(try await store.claim(owner: "h", now: t0 + 60_499, limit: 1, leaseMilliseconds: 10_000).isEmpty)
        let again = try #require(try await store.claim(owner: "h", now: t0 + 60_500, limit: 1, leaseMilliseconds: 10_000).first)
        #expect(again.requestID == "r")
        #expect(again.invokeCount == 1)
        #expect(again.lastFailure == failure)
        #expect(again.payload == claimed.payload)
    }

    @Test(arguments: StoreKind.all) func aFinishedFailureWritesItsRecordsAtomically(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.createQueue("on-failure")
        try await store.createQueue("dlq")
        try await store.accept([event("x")])
        var claimed = try #require(try await store.claim(owner: "h", now: t0, limit: 1, leaseMilliseconds: 10_000).first)
        let failure = AttemptFailure(kind: .handled, error: FunctionError(errorType: "E", errorMessage: "no"))
        let step = AsyncRetryPolicy.next(after: .functionError(failure), for: &claimed, now: t0, config: EventInvokeConfig(maximumRetryAttempts: 0))
        #expect(step == .finish(.retriesExhausted))
        let record = InvocationRecord(event: claimed, condition: .retriesExhausted, functionARN: "arn:f:$LATEST", timestampMilliseconds: t0).json
        let dead = DeadLetterMessage(event: claimed, condition: .retriesExhausted)
        let finished = FinishedEvent(condition: .retriesExhausted, record: record, deliveries: [
            QueueDelivery(queue: "on-failure", message: QueueMessage(body: Array(record.utf8))),
            QueueDelivery(queue: "dlq", message: QueueMessage(body: dead.body, attributes: dead.attributes.map {
                MessageAttribute(name: $0.name, dataType: $0.dataType, value: $0.value)
            })),
        ])
        #expect(try await store.settle([Settlement(event: claimed, owner: "h", outcome: .finished(finished))], now: t0).applied == 1)

        let destination = try await store.receive(from: "on-failure", limit: 10, visibilityMilliseconds: 30_000, now: t0)
        #expect(destination.map { String(decoding: $0.message.body, as: UTF8.self) } == [record])
        let dlq = try #require(try await store.receive(from: "dlq", limit: 10, visibilityMilliseconds: 30_000, now: t0).first)
        #expect(dlq.message.body == claimed.payload)
        #expect(dlq.message.attributes.map(\.name) == ["ErrorCode", "ErrorMessage", "RequestID"])
        #expect(dlq.message.attributes.first { $0.name == "RequestID" }?.value == "x")

        let failed = try await store.failedEvents(limit: 10)
        #expect(failed.map(\.event.requestID) == ["x"])
        #expect(failed.first?.condition == .retriesExhausted)
        #expect(failed.first?.record == record)
        #expect(try await store.claim(owner: "h", now: t0 + 1_000_000, limit: 10, leaseMilliseconds: 1).isEmpty)
    }

    @Test(arguments: StoreKind.all) func failedEventsCanBeRedrivenWithTheirRequestIDs(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.accept([event("f1"), event("f2")])
        for claimed in try await store.claim(owner: "h", now: t0, limit: 2, leaseMilliseconds: 1_000) {
            var failed = claimed
            failed.invokeCount = 3
            try await store.settle([Settlement(event: failed, owner: "h", outcome: .finished(FinishedEvent(condition: .retriesExhausted, record: "{}")))], now: t0)
        }
        #expect(Set(try await store.failedEvents(limit: 10).map(\.event.requestID)) == ["f1", "f2"])
        #expect(try await store.failedEvent(requestID: "f1")?.condition == .retriesExhausted)
        #expect(try await store.redrive(["f1", "unknown"], now: t0 + 5) == ["f1"])
        #expect(try await store.failedEvent(requestID: "f1") == nil)
        #expect(try await store.failedEvents(limit: 10).map(\.event.requestID) == ["f2"])
        let again = try await store.claim(owner: "h", now: t0 + 5, limit: 10, leaseMilliseconds: 1_000)
        #expect(again.map(\.requestID) == ["f1"])
        #expect(again.first?.invokeCount == 0)
        #expect(again.first?.payload == event("f1").payload)
        #expect(try await store.redrive(nil, now: t0 + 6) == ["f2"])
    }

    @Test(arguments: StoreKind.all) func aRecordForAMissingQueueIsKeptNotDropped(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.accept([event("m")])
        let claimed = try #require(try await store.claim(owner: "h", now: t0, limit: 1, leaseMilliseconds: 10_000).first)
        let finished = FinishedEvent(condition: .success, record: #"{"r":1}"#,
                                     deliveries: [QueueDelivery(queue: "gone", message: QueueMessage(body: [1]))],
                                     undeliverable: [(destination: "arn:aws:sns:us-east-1:0:topic", reason: "topics are not supported yet")])
        let report = try await store.settle([Settlement(event: claimed, owner: "h", outcome: .finished(finished))], now: t0)
        #expect(report.applied == 1)
        #expect(report.undelivered == [UndeliveredQueueDelivery(requestID: "m", functionName: "f", queue: "gone", purpose: .destination)])
        let kept = try await store.undeliverableRecords(limit: 10)
        #expect(kept.map(\.destination) == ["gone", "arn:aws:sns:us-east-1:0:topic"])
        #expect(kept.allSatisfy { $0.requestID == "m" && $0.record == #"{"r":1}"# })
        #expect(kept[0].reason.contains("gone"))
    }

    @Test(arguments: StoreKind.all) func freshEventsAreNotStuckBehindRetries(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.accept((0..<40).map { event("old-\($0)", at: t0 - 3_600_000) })
        // Make every old event a due retry.
        let old = try await store.claim(owner: "h", now: t0, limit: 40, leaseMilliseconds: 10_000)
        try await store.settle(old.map { item in
            var retry = item
            retry.invokeCount = 1
            retry.dueAtMilliseconds = t0
            return Settlement(event: retry, owner: "h", outcome: .runAgain)
        }, now: t0)
        try await store.accept((0..<40).map { event("new-\($0)") })
        let claim = try await store.claim(owner: "h", now: t0, limit: 8, leaseMilliseconds: 10_000)
        #expect(claim.count == 8)
        #expect(claim.contains { $0.requestID.hasPrefix("new-") })
        #expect(claim.contains { $0.requestID.hasPrefix("old-") })
    }

    @Test(arguments: StoreKind.all) func queuesHideReceivedMessagesUntilTheirVisibilityTimeout(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.createQueue("q")
        try await store.send([QueueMessage(body: Array("one".utf8)), QueueMessage(body: Array("two".utf8))], to: "q", now: t0)
        let first = try await store.receive(from: "q", limit: 1, visibilityMilliseconds: 30_000, now: t0)
        #expect(first.map(\.message.body) == [Array("one".utf8)])
        #expect(first.first?.receiveCount == 1)
        let second = try await store.receive(from: "q", limit: 10, visibilityMilliseconds: 30_000, now: t0)
        #expect(second.map(\.message.body) == [Array("two".utf8)])
        #expect(try await store.receive(from: "q", limit: 10, visibilityMilliseconds: 30_000, now: t0 + 29_999).isEmpty)
        let again = try await store.receive(from: "q", limit: 10, visibilityMilliseconds: 30_000, now: t0 + 30_000)
        #expect(again.count == 2)
        #expect(again.allSatisfy { $0.receiveCount == 2 })
        // The first receipt handle went stale when the message was received again.
        #expect(try await store.delete(from: "q", receiptHandle: first[0].receiptHandle) == false)
        for message in again { #expect(try await store.delete(from: "q", receiptHandle: message.receiptHandle)) }
        #expect(try await store.receive(from: "q", limit: 10, visibilityMilliseconds: 0, now: t0 + 100_000).isEmpty)
        await #expect(throws: StoreError.self) { try await store.send([QueueMessage(body: [])], to: "missing", now: t0) }
    }

    @Test(arguments: StoreKind.all) func queueAttributesAreKeptAndCounted(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        var attributes = QueueAttributes()
        attributes.visibilityTimeoutSeconds = 5
        attributes.delaySeconds = 10
        let created = try await store.createQueue("q", attributes: attributes, now: t0)
        #expect(created.attributes == attributes)
        // Creating it again keeps what it has.
        #expect(try await store.createQueue("q", attributes: QueueAttributes(), now: t0 + 1).attributes == attributes)
        try await store.send([QueueMessage(body: Array("late".utf8)), QueueMessage(body: Array("now".utf8), delaySeconds: 0)], to: "q", now: t0)
        var state = try #require(try await store.queue("q", now: t0))
        #expect((state.visibleMessages, state.inFlightMessages, state.delayedMessages) == (1, 0, 1))
        // The queue's visibility timeout applies when the receiver gives none.
        let first = try await store.receive(from: "q", limit: 10, visibilityMilliseconds: nil, now: t0)
        #expect(first.map(\.message.body) == [Array("now".utf8)])
        state = try #require(try await store.queue("q", now: t0 + 4_999))
        #expect((state.visibleMessages, state.inFlightMessages, state.delayedMessages) == (0, 1, 1))
        #expect(try await store.receive(from: "q", limit: 10, visibilityMilliseconds: nil, now: t0 + 4_999).isEmpty)
        #expect(try await store.receive(from: "q", limit: 10, visibilityMilliseconds: nil, now: t0 + 10_000).count == 2)

        attributes.visibilityTimeoutSeconds = 60
        try await store.setQueueAttributes("q", attributes, now: t0 + 20_000)
        state = try #require(try await store.queue("q", now: t0 + 20_000))
        #expect(state.attributes.visibilityTimeoutSeconds == 60)
        #expect(state.modifiedAtMilliseconds == t0 + 20_000 && state.createdAtMilliseconds == t0)
        try await store.purgeQueue("q")
        #expect(try await store.receive(from: "q", limit: 10, visibilityMilliseconds: nil, now: t0 + 1_000_000).isEmpty)
        #expect(try await store.queue("missing", now: t0) == nil)
        #expect(try await store.queueSettings("missing") == nil)
        #expect(try await store.queueSettings("q")?.attributes.visibilityTimeoutSeconds == 60)
        await #expect(throws: StoreError.self) { try await store.setQueueAttributes("missing", attributes, now: t0) }
    }

    @Test(arguments: StoreKind.all) func messagesMoveToTheDeadLetterQueueAfterMaxReceiveCount(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.createQueue("dead")
        var attributes = QueueAttributes()
        attributes.redrivePolicy = .init(deadLetterQueue: "dead", maxReceiveCount: 2)
        try await store.createQueue("work", attributes: attributes, now: t0)
        let ids = try await store.send([QueueMessage(body: Array("poison".utf8), attributes: [MessageAttribute(name: "a", dataType: "String", value: "1")])],
                                       to: "work", now: t0)
        for round in 0..<2 {
            let received = try await store.receive(from: "work", limit: 10, visibilityMilliseconds: 1_000, now: t0 + Int64(round) * 1_000)
            #expect(received.first?.receiveCount == round + 1)
        }
        #expect(try await store.receive(from: "work", limit: 10, visibilityMilliseconds: 1_000, now: t0 + 2_000).isEmpty)
        let dead = try await store.receive(from: "dead", limit: 10, visibilityMilliseconds: 1_000, now: t0 + 2_000)
        #expect(dead.map(\.messageID) == ids)
        #expect(dead.first?.receiveCount == 1)
        #expect(dead.first?.sentAtMilliseconds == t0)
        #expect(dead.first?.message.attributes.map(\.value) == ["1"])
    }

    @Test(arguments: StoreKind.all) func messagesPastRetentionAreDropped(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        var attributes = QueueAttributes()
        attributes.messageRetentionSeconds = 60
        try await store.createQueue("short", attributes: attributes, now: t0)
        try await store.send([QueueMessage(body: [1])], to: "short", now: t0)
        #expect(try await store.queue("short", now: t0 + 59_999)?.visibleMessages == 1)
        #expect(try await store.queue("short", now: t0 + 60_000)?.visibleMessages == 0)
        #expect(try await store.receive(from: "short", limit: 10, visibilityMilliseconds: nil, now: t0 + 60_000).isEmpty)
    }

    @Test(arguments: StoreKind.all) func visibilityCanBeChangedWhileInFlight(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.createQueue("v")
        try await store.send([QueueMessage(body: [1])], to: "v", now: t0)
        let message = try #require(try await store.receive(from: "v", limit: 1, visibilityMilliseconds: 30_000, now: t0).first)
        #expect(try await store.changeVisibility(in: "v", receiptHandle: message.receiptHandle, visibilityMilliseconds: 0, now: t0 + 1) == .changed)
        #expect(try await store.changeVisibility(in: "v", receiptHandle: message.receiptHandle, visibilityMilliseconds: 10, now: t0 + 2) == .notInFlight)
        let again = try #require(try await store.receive(from: "v", limit: 1, visibilityMilliseconds: 30_000, now: t0 + 2).first)
        #expect(try await store.changeVisibility(in: "v", receiptHandle: message.receiptHandle, visibilityMilliseconds: 0, now: t0 + 3) == .invalidReceiptHandle)
        #expect(try await store.changeVisibility(in: "v", receiptHandle: again.receiptHandle, visibilityMilliseconds: 120_000, now: t0 + 3) == .changed)
        #expect(try await store.receive(from: "v", limit: 1, visibilityMilliseconds: 30_000, now: t0 + 120_002).isEmpty)
        #expect(try await store.receive(from: "v", limit: 1, visibilityMilliseconds: 30_000, now: t0 + 120_003).count == 1)
    }

    @Test(arguments: StoreKind.all) func anOversizedRecordIsKeptAsUndeliverable(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        var attributes = QueueAttributes()
        attributes.maximumMessageBytes = 1_024
        try await store.createQueue("small", attributes: attributes, now: t0)
        try await store.accept([event("big")])
        let claimed = try #require(try await store.claim(owner: "h", now: t0, limit: 1, leaseMilliseconds: 10_000).first)
        let record = "{\"pad\":\"" + String(repeating: "x", count: 2_000) + "\"}"
        let finished = FinishedEvent(condition: .success, record: record,
                                     deliveries: [QueueDelivery(queue: "small", message: QueueMessage(body: Array(record.utf8)))])
        #expect(try await store.settle([Settlement(event: claimed, owner: "h", outcome: .finished(finished))], now: t0).applied == 1)
        let kept = try await store.undeliverableRecords(limit: 10)
        #expect(kept.map(\.requestID) == ["big"])
        #expect(kept.first?.reason.contains("MaximumMessageSize") == true)
        #expect(try await store.receive(from: "small", limit: 10, visibilityMilliseconds: nil, now: t0).isEmpty)
    }

    @Test(arguments: StoreKind.all) func functionDefinitionsAreKeptWithTheirCode(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.saveFunction(name: "thumbs", definition: #"{"v":1}"#, code: [1, 2, 3], now: t0)
        try await store.saveFunction(name: "thumbs", definition: #"{"v":2}"#, code: nil, now: t0 + 1)
        #expect(try await store.storedFunctions() == [StoredFunction(name: "thumbs", definition: #"{"v":2}"#, code: [1, 2, 3], modifiedAtMilliseconds: t0 + 1)])
        #expect(try await store.storedFunctions(withCode: false).map(\.code) == [[]])
        try await store.saveFunction(name: "thumbs", definition: #"{"v":3}"#, code: [4], now: t0 + 2)
        #expect(try await store.storedFunctions().map(\.code) == [[4]])
        await #expect(throws: StoreError.self) { try await store.saveFunction(name: "ghost", definition: "{}", code: nil, now: t0) }
        try await store.deleteFunction(named: "thumbs")
        #expect(try await store.storedFunctions().isEmpty)
    }

    @Test(arguments: StoreKind.all) func concurrentAcceptsAreAllDurable(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { try await store.accept([event("c-\(index)")]) }
            }
            try await group.waitForAll()
        }
        let claimed = try await store.claim(owner: "h", now: t0, limit: 1_000, leaseMilliseconds: 1_000)
        #expect(claimed.count == 200)
    }

    // MARK: HTTP outbox and messaging definitions

    func post(_ id: String, to url: String = "http://127.0.0.1:9/hook") -> HTTPDelivery {
        HTTPDelivery(url: url, body: Array(#"{"id":"\#(id)"}"#.utf8), headers: [HTTPDeliveryHeader("X-Chute-Request-Id", id)],
                     requestID: id, functionName: "f", origin: "test")
    }

    @Test(arguments: StoreKind.all) func httpDeliveriesAreLeasedRetriedAndKeptWhenTheyRunOut(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        var plan = DeliveryPlan()
        plan.httpDeliveries = [post("a"), post("b", to: "http://127.0.0.1:9/slow"), post("c")]
        try await store.deliver(plan, now: t0)
        #expect(try await store.pendingHTTPDeliveryCount() == 3)
        // An endpoint at its limit is left out; a leased delivery is not claimed twice.
        let first = try await store.claimHTTPDeliveries(owner: "h1", now: t0, limit: 10, leaseMilliseconds: 30_000,
                                                        excludingURLs: ["http://127.0.0.1:9/slow"])
        #expect(first.map(\.delivery.requestID) == ["a", "c"])
        #expect(first.first?.delivery.headers == [HTTPDeliveryHeader("X-Chute-Request-Id", "a")])
        #expect(try await store.claimHTTPDeliveries(owner: "h2", now: t0, limit: 10, leaseMilliseconds: 30_000, excludingURLs: [])
            .map(\.delivery.requestID) == ["b"])
        try await store.finishHTTPDelivery(id: first[0].id, owner: "h1", outcome: .delivered, now: t0)
        try await store.finishHTTPDelivery(id: first[1].id, owner: "h1", outcome: .retry(dueAt: t0 + 1_000, error: "503"), now: t0)
        #expect(try await store.claimHTTPDeliveries(owner: "h1", now: t0 + 999, limit: 10, leaseMilliseconds: 30_000, excludingURLs: []).isEmpty)
        // "b"'s holder died: its lease expires and another host takes it over.
        let due = try await store.claimHTTPDeliveries(owner: "h1", now: t0 + 30_001, limit: 10, leaseMilliseconds: 30_000, excludingURLs: [])
        #expect(due.map(\.delivery.requestID) == ["b", "c"])
        #expect(due.last?.attempts == 1)
        #expect(due.last?.lastError == "503")
        // A result from a host that lost its lease is ignored.
        try await store.finishHTTPDelivery(id: due[0].id, owner: "h2", outcome: .delivered, now: t0 + 30_001)
        try await store.finishHTTPDelivery(id: due[1].id, owner: "h1", outcome: .undeliverable(error: "connection refused"), now: t0 + 30_001)
        #expect(try await store.pendingHTTPDeliveryCount() == 1)
        let kept = try await store.undeliverableHTTPDeliveries(limit: 10)
        #expect(kept.map(\.delivery.requestID) == ["c"])
        #expect(kept.first?.lastError == "connection refused")
        #expect(kept.first?.attempts == 2)
        #expect(try await store.redeliverHTTPDeliveries(nil, now: t0 + 40_000) == 1)
        #expect(try await store.undeliverableHTTPDeliveries(limit: 10).isEmpty)
        let again = try await store.claimHTTPDeliveries(owner: "h1", now: t0 + 40_000, limit: 10, leaseMilliseconds: 30_000, excludingURLs: [])
        #expect(again.map(\.delivery.requestID) == ["c"])
        #expect(again.first?.attempts == 0)
    }

    @Test(arguments: StoreKind.all) func aPlanIsWrittenInOneTransaction(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.createQueue("q")
        var plan = DeliveryPlan()
        plan.queueDeliveries = [QueueDelivery(queue: "q", message: QueueMessage(body: [1])), QueueDelivery(queue: "missing", message: QueueMessage(body: [2]))]
        plan.followUps = [event("follow")]
        plan.httpDeliveries = [post("p")]
        plan.undeliverable = [UndeliverableDelivery(requestID: "m", destination: "arn:aws:sns:us-east-1:0:gone", reason: "no topic", record: "{}")]
        let report = try await store.deliver(plan, now: t0)
        #expect(report.undelivered.map(\.queue) == ["missing"])
        #expect(try await store.receive(from: "q", limit: 10, visibilityMilliseconds: nil, now: t0).map(\.message.body) == [[1]])
        #expect(try await store.claim(owner: "h", now: t0, limit: 10, leaseMilliseconds: 1_000).map(\.requestID) == ["follow"])
        #expect(try await store.pendingHTTPDeliveryCount() == 1)
        #expect(Set(try await store.undeliverableRecords(limit: 10).map(\.destination)) == ["missing", "arn:aws:sns:us-east-1:0:gone"])
    }

    @Test(arguments: StoreKind.all) func topicsAndBusesAreKept(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        let topic = Topic(name: "t", arn: "arn:aws:sns:us-east-1:000000000000:t", subscriptions: [
            TopicSubscription(arn: "arn:aws:sns:us-east-1:000000000000:t:1", topicARN: "arn:aws:sns:us-east-1:000000000000:t", kind: .sqs,
                              endpoint: "arn:aws:sqs:us-east-1:000000000000:q", rawMessageDelivery: true, filterPolicy: #"{"a":["b"]}"#),
        ])
        let bus = EventBus(name: "b", arn: "arn:aws:events:us-east-1:000000000000:event-bus/b", rules: [
            EventRule(name: "r", arn: "arn:aws:events:us-east-1:000000000000:rule/b/r", eventPattern: #"{"source":["x"]}"#,
                      targets: [RuleTarget(id: "1", arn: "http://127.0.0.1:9/")]),
        ])
        try await store.saveTopic(topic)
        try await store.saveEventBus(bus)
        #expect(try await store.storedTopics() == [topic])
        #expect(try await store.storedEventBuses() == [bus])
        try await store.deleteTopic(arn: topic.arn)
        try await store.deleteEventBus(arn: bus.arn)
        #expect(try await store.storedTopics().isEmpty)
        #expect(try await store.storedEventBuses().isEmpty)
    }

    // MARK: Streams

    func entry(_ key: String, _ shard: Int, of map: ShardMap, _ data: String) -> StreamEntry {
        StreamEntry(partitionKey: key, hashKey: map.startingHashKey(shard), data: Array(data.utf8))
    }

    @Test(arguments: StoreKind.all) func streamsKeepShardOrderAndAreReadFromAnyPosition(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        let created = try #require(try await store.createStream("clicks", shardCount: 2, retentionHours: 24, now: t0))
        #expect(try await store.createStream("clicks", shardCount: 3, retentionHours: 24, now: t0) == nil)
        let map = created.shardMap
        let first = try await store.putRecords([entry("a", 0, of: map, "a1"), entry("b", 1, of: map, "b1"), entry("a", 0, of: map, "a2")],
                                               to: "clicks", now: t0)
        #expect(first.map(\.shardID) == ["shardId-000000000000", "shardId-000000000001", "shardId-000000000000"])
        #expect(first.map(\.sequence) == [1, 2, 3])
        let later = try await store.putRecords([entry("a", 0, of: map, "a3")], to: "clicks", now: t0 + 5_000)
        #expect(later.map(\.sequence) == [4])
        func data(_ position: StreamPosition, limit: Int = 10) async throws -> [String] {
            try await store.records(in: "clicks", shard: 0, from: position, limit: limit, now: t0 + 5_000)
                .map { String(decoding: $0.data, as: UTF8.self) }
        }
        #expect(try await data(.trimHorizon) == ["a1", "a2", "a3"])
        #expect(try await data(.trimHorizon, limit: 2) == ["a1", "a2"])
        #expect(try await data(.atSequence(3)) == ["a2", "a3"])
        #expect(try await data(.afterSequence(3)) == ["a3"])
        #expect(try await data(.atTimestamp(t0 + 1)) == ["a3"])
        #expect(try await store.lastSequence(in: "clicks", shard: 0) == 4)
        #expect(try await store.lastSequence(in: "clicks", shard: 1) == 2)
        #expect(try await store.streamDescriptions().map(\.name) == ["clicks"])
        await #expect(throws: StoreError.self) { try await store.putRecords([entry("a", 0, of: map, "x")], to: "missing", now: t0) }
        #expect(try await store.deleteStream("clicks"))
        #expect(try await !store.deleteStream("clicks"))
        #expect(try await store.stream("clicks") == nil)
    }

    @Test(arguments: StoreKind.all) func streamRecordsPastRetentionAreNotReadAndAreDropped(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        let map = try #require(try await store.createStream("short", shardCount: 1, retentionHours: 24, now: t0)).shardMap
        try await store.putRecords([entry("k", 0, of: map, "old")], to: "short", now: t0)
        let day: Int64 = 86_400_000
        try await store.putRecords([entry("k", 0, of: map, "new")], to: "short", now: t0 + day - 1)
        #expect(try await store.records(in: "short", shard: 0, from: .trimHorizon, limit: 10, now: t0 + day - 1).count == 2)
        // A day on, the first record is past retention: not read, and gone once the shard is written.
        #expect(try await store.records(in: "short", shard: 0, from: .trimHorizon, limit: 10, now: t0 + day + 1)
            .map { String(decoding: $0.data, as: UTF8.self) } == ["new"])
        try await store.putRecords([entry("k", 0, of: map, "newer")], to: "short", now: t0 + day + 1)
        #expect(try await store.records(in: "short", shard: 0, from: .atSequence(1), limit: 10, now: t0)
            .map { String(decoding: $0.data, as: UTF8.self) } == ["new", "newer"])
    }

    // MARK: Shard leases

    @Test(arguments: StoreKind.all) func shardLeasesAreTakenOverAfterExpiryAndCheckpointsCommitWithTheirRecords(_ kind: StoreKind) async throws {
        let store = try await kind.makeStore()
        try await store.createQueue("failures")
        let shards = ["shardId-000000000000", "shardId-000000000001"]
        let first = try await store.acquireShardLeases(mapping: "m", shards: shards, owner: "a", limit: 10, now: t0, leaseMilliseconds: 10_000)
        #expect(first.map(\.shard) == shards)
        #expect(first.allSatisfy { $0.owner == "a" && $0.checkpoint == nil })
        #expect(try await store.acquireShardLeases(mapping: "m", shards: shards, owner: "b", limit: 10, now: t0 + 1, leaseMilliseconds: 10_000).isEmpty)

        var plan = DeliveryPlan()
        plan.queueDeliveries = [QueueDelivery(queue: "failures", message: QueueMessage(body: Array("discarded".utf8)))]
        #expect(try await store.commitCheckpoint(first[0], owner: "a", sequence: 5, plan: plan, now: t0 + 2, leaseMilliseconds: 10_000))
        #expect(try await store.queue("failures", now: t0 + 2)?.visibleMessages == 1)

        // "a" died: after its leases expire, "b" takes one shard (its limit) and resumes from the checkpoint.
        let taken = try await store.acquireShardLeases(mapping: "m", shards: shards, owner: "b", limit: 1, now: t0 + 20_000, leaseMilliseconds: 10_000)
        #expect(taken.map(\.shard) == [shards[0]])
        #expect(taken.first?.checkpoint == 5)
        // "a" comes back too late: nothing it commits is written.
        #expect(try await !store.commitCheckpoint(first[0], owner: "a", sequence: 9, plan: plan, now: t0 + 20_001, leaseMilliseconds: 10_000))
        #expect(try await store.queue("failures", now: t0 + 20_001)?.visibleMessages == 1)
        let both = try await store.acquireShardLeases(mapping: "m", shards: shards, owner: "b", limit: 2, now: t0 + 20_002, leaseMilliseconds: 10_000)
        #expect(both.map(\.shard) == shards)

        // An operator skips a record: the lease is freed and the checkpoint moved.
        try await store.moveCheckpoint(mapping: "m", shard: shards[1], to: 42)
        let leases = try await store.shardLeases(mapping: "m")
        #expect(leases.map(\.owner) == ["b", nil])
        #expect(leases.map(\.checkpoint) == [5, 42])
        // "b" takes it again; what its earlier holding commits late is refused, so the move stands.
        let retaken = try await store.acquireShardLeases(mapping: "m", shards: shards, owner: "b", limit: 2, now: t0 + 20_003, leaseMilliseconds: 10_000)
        #expect(retaken[1].counter == both[1].counter + 1)
        #expect(try await !store.commitCheckpoint(both[1], owner: "b", sequence: 7, plan: DeliveryPlan(), now: t0 + 20_004, leaseMilliseconds: 10_000))
        #expect(try await store.commitCheckpoint(retaken[1], owner: "b", sequence: 43, plan: DeliveryPlan(), now: t0 + 20_004, leaseMilliseconds: 10_000))
        #expect(try await store.shardLeases(mapping: "m").map(\.checkpoint) == [5, 43])
        try await store.releaseShardLeases(mapping: "m", owner: "b")
        #expect(try await store.shardLeases(mapping: "m").allSatisfy { $0.owner == nil })
        try await store.deleteShardLeases(mapping: "m")
        #expect(try await store.shardLeases(mapping: "m").isEmpty)
    }
}

