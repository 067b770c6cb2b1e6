import ChuteCore
import ChuteStore
import ChuteTestSupport
import FoundationEssentials
import Testing

@Suite struct SQLiteAsyncEventStoreTests {
    static func freshPath() -> String {
        Fixtures.scratch + "/store-\(RequestID.make()).sqlite"
    }

    /// One host: reopening the file after the process died releases its leases, so in-flight
    /// events run again with their request ids.
    @Test func reopeningReleasesLeasesOfTheDeadProcess() async throws {
        let path = Self.freshPath()
        let t0: Int64 = 1_700_000_000_000
        do {
            let store = try SQLiteAsyncEventStore(path: path)
            try await store.accept([AsyncEvent(requestID: "inflight", functionName: "f", payload: [1], receivedAtMilliseconds: t0)])
            #expect(try await store.claim(owner: "dead", now: t0, limit: 1, leaseMilliseconds: 3_600_000).count == 1)
        }
        let reopened = try SQLiteAsyncEventStore(path: path)
        let again = try await reopened.claim(owner: "alive", now: t0 + 1, limit: 1, leaseMilliseconds: 1_000)
        #expect(again.map(\.requestID) == ["inflight"])
    }


    /// Batch rows and message segments are rows like any other: after the process died, the
    /// reopened store knows which batched events are pending, and the records are there.
    @Test func batchedEventsAndSegmentsSurviveReopening() async throws {
        let path = Self.freshPath()
        let t0: Int64 = 1_700_000_000_000
        let events = (0..<5).map { AsyncEvent(requestID: "b\($0)", functionName: "f", payload: [UInt8($0)], receivedAtMilliseconds: t0) }
        do {
            let store = try SQLiteAsyncEventStore(path: path)
            try await store.createQueue("records")
            try await store.accept(events)
            let claimed = try await store.claim(owner: "dead", now: t0, limit: 2, leaseMilliseconds: 3_600_000)
            #expect(claimed.count == 2)
            let finished = FinishedEvent(condition: .success, record: "{}", deliveries: [QueueDelivery(queue: "records", message: QueueMessage(body: [7]))])
            #expect(try await store.settle([Settlement(event: claimed[0], owner: "dead", outcome: .finished(finished))], now: t0).applied == 1)
        }
        let reopened = try SQLiteAsyncEventStore(path: path)
        // The same request ids are refused while pending.
        #expect(try await reopened.accept([events[4]], lease: nil).isEmpty)
        let again = try await reopened.claim(owner: "alive", now: t0 + 1, limit: 10, leaseMilliseconds: 1_000)
        #expect(again.count == 4)
        let finished = FinishedEvent(condition: .success, record: "{}")
        #expect(try await reopened.settle(again.map { Settlement(event: $0, owner: "alive", outcome: .finished(finished)) }, now: t0 + 2).applied == 4)
        #expect(try await reopened.claim(owner: "alive", now: t0 + 10_000, limit: 10, leaseMilliseconds: 1_000).isEmpty)
        #expect(try await reopened.receive(from: "records", limit: 10, visibilityMilliseconds: nil, now: t0 + 3).map(\.message.body) == [[7]])
    }

    /// A group commit that fails is tried again item by item: an accept that was in the group
    /// with a failing call is stored once, and the store's memory of batched events stays true.
    @Test func anAcceptGroupedWithAFailingCallIsStoredOnce() async throws {
        let store = try SQLiteAsyncEventStore(path: Self.freshPath())
        let t0: Int64 = 1_700_000_000_000
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                group.addTask {
                    if index % 2 == 0 {
                        _ = try? await store.send([QueueMessage(body: [1])], to: "missing-\(index)", now: t0)
                    } else {
                        _ = try? await store.accept([AsyncEvent(requestID: "g\(index)", functionName: "f", payload: [1], receivedAtMilliseconds: t0)],
                                                    lease: nil)
                    }
                }
            }
        }
        let claimed = try await store.claim(owner: "h", now: t0, limit: 100, leaseMilliseconds: 1_000)
        #expect(claimed.map(\.requestID).sorted() == (0..<20).filter { $0 % 2 == 1 }.map { "g\($0)" }.sorted())
        let finished = FinishedEvent(condition: .success, record: "{}")
        #expect(try await store.settle(claimed.map { Settlement(event: $0, owner: "h", outcome: .finished(finished)) }, now: t0).applied == 10)
    }

    /// The store keys batched events by their ids packed into 128 bits when they are lowercase
    /// UUIDs: ids that differ only in case or are not UUIDs at all stay distinct events, and a
    /// repeated id is still refused.
    @Test func requestIDsThatAreNotLowercaseUUIDsStayDistinct() async throws {
        let store = try SQLiteAsyncEventStore(path: Self.freshPath())
        let t0: Int64 = 1_700_000_000_000
        let lower = RequestID.make()
        let ids = [lower, lower.uppercased(), "order-42", String(lower.map { $0 == "-" ? "_" : $0 })]
        let events = ids.map { AsyncEvent(requestID: $0, functionName: "f", payload: [1], receivedAtMilliseconds: t0) }
        #expect(try await store.accept(events, lease: nil).map(\.requestID) == ids)
        #expect(try await store.accept(events, lease: nil).isEmpty)
        let claimed = try await store.claim(owner: "h", now: t0, limit: 10, leaseMilliseconds: 1_000)
        #expect(claimed.map(\.requestID).sorted() == ids.sorted())
        let finished = FinishedEvent(condition: .success, record: "{}")
        #expect(try await store.settle(claimed.map { Settlement(event: $0, owner: "h", outcome: .finished(finished)) }, now: t0).applied == 4)
        #expect(try await store.claim(owner: "h", now: t0 + 5_000, limit: 10, leaseMilliseconds: 1_000).isEmpty)
    }

    @Test func anUnwritablePathIsAClearError() {
        #expect(throws: StoreError.self) { try SQLiteAsyncEventStore(path: "/nonexistent-dir/chute.sqlite") }
    }
}
