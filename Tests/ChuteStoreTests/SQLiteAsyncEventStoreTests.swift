import ChuteCore
import ChuteStore
import ChuteTestSupport
import FoundationEssentials
import Testing

@Suite struct SQLiteAsyncEventStoreTests {
    static func freshPath() -> String {
        Fixtures.scratch + "/store-\(RequestID.make()).sqlite"
    }

    let conformance = AsyncEventStoreConformance { try SQLiteAsyncEventStore(path: SQLiteAsyncEventStoreTests.freshPath()) }

    @Test func claimsAreLeasedAndTakenOverAfterExpiry() async throws { try await conformance.claimsAreLeasedAndTakenOverAfterExpiry() }
    @Test func claimsCanSkipFunctionsAndGiveLeasesBack() async throws { try await conformance.claimsCanSkipFunctionsAndGiveLeasesBack() }
    @Test func claimsTakeTheOldestDueEventsAcrossFunctionsAndSkipALeftOutBacklog() async throws {
        try await conformance.claimsTakeTheOldestDueEventsAcrossFunctionsAndSkipALeftOutBacklog()
    }
    @Test func eventsAcceptedWithALeaseAreHeldByItsOwner() async throws { try await conformance.eventsAcceptedWithALeaseAreHeldByItsOwner() }
    @Test func receivedMessagesCanBeDeletedFromALongQueue() async throws { try await conformance.receivedMessagesCanBeDeletedFromALongQueue() }
    @Test func acceptingTheSameRequestTwiceKeepsOne() async throws { try await conformance.acceptingTheSameRequestTwiceKeepsOne() }
    @Test func aRescheduledEventKeepsItsHistory() async throws { try await conformance.aRescheduledEventKeepsItsHistory() }
    @Test func aFinishedFailureWritesItsRecordsAtomically() async throws { try await conformance.aFinishedFailureWritesItsRecordsAtomically() }
    @Test func failedEventsCanBeRedrivenWithTheirRequestIDs() async throws { try await conformance.failedEventsCanBeRedrivenWithTheirRequestIDs() }
    @Test func aRecordForAMissingQueueIsKeptNotDropped() async throws { try await conformance.aRecordForAMissingQueueIsKeptNotDropped() }
    @Test func freshEventsAreNotStuckBehindRetries() async throws { try await conformance.freshEventsAreNotStuckBehindRetries() }
    @Test func queuesHideReceivedMessagesUntilTheirVisibilityTimeout() async throws {
        try await conformance.queuesHideReceivedMessagesUntilTheirVisibilityTimeout()
    }
    @Test func queueAttributesAreKeptAndCounted() async throws { try await conformance.queueAttributesAreKeptAndCounted() }
    @Test func messagesMoveToTheDeadLetterQueueAfterMaxReceiveCount() async throws {
        try await conformance.messagesMoveToTheDeadLetterQueueAfterMaxReceiveCount()
    }
    @Test func messagesPastRetentionAreDropped() async throws { try await conformance.messagesPastRetentionAreDropped() }
    @Test func visibilityCanBeChangedWhileInFlight() async throws { try await conformance.visibilityCanBeChangedWhileInFlight() }
    @Test func anOversizedRecordIsKeptAsUndeliverable() async throws { try await conformance.anOversizedRecordIsKeptAsUndeliverable() }
    @Test func functionDefinitionsAreKeptWithTheirCode() async throws { try await conformance.functionDefinitionsAreKeptWithTheirCode() }
    @Test func concurrentAcceptsAreAllDurable() async throws { try await conformance.concurrentAcceptsAreAllDurable() }

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

    @Test func anUnwritablePathIsAClearError() {
        #expect(throws: StoreError.self) { try SQLiteAsyncEventStore(path: "/nonexistent-dir/chute.sqlite") }
    }
}
