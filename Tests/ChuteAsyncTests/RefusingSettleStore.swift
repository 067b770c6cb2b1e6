import ChuteCore
import ChuteStore

/// A SQLite store whose settle refuses whatever `refuses` picks, as a full disk or a record past
/// the store's limits would, and does everything else as the store does.
struct RefusingSettleStore: AsyncEventStore {
    let store: SQLiteAsyncEventStore
    let refuses: @Sendable ([Settlement]) -> Bool

    struct Refused: Error, CustomStringConvertible {
        var description: String { "the store refused the results (a test)" }
    }

    func settle(_ settlements: [Settlement], now: Int64) async throws -> SettleReport {
        if refuses(settlements) { throw Refused() }
        return try await store.settle(settlements, now: now)
    }

    func accept(_ events: [AsyncEvent], lease: EventLease?) async throws -> [AsyncEvent] { try await store.accept(events, lease: lease) }
    func claim(owner: String, now: Int64, limit: Int, leaseMilliseconds: Int64, excluding: Set<String>) async throws -> [AsyncEvent] {
        try await store.claim(owner: owner, now: now, limit: limit, leaseMilliseconds: leaseMilliseconds, excluding: excluding)
    }
    func renewLeases(owner: String, now: Int64, leaseMilliseconds: Int64) async throws {
        try await store.renewLeases(owner: owner, now: now, leaseMilliseconds: leaseMilliseconds)
    }
    func release(_ requestIDs: [String], owner: String) async throws { try await store.release(requestIDs, owner: owner) }
    func failedEvents(limit: Int) async throws -> [FailedEvent] { try await store.failedEvents(limit: limit) }
    func failedEvent(requestID: String) async throws -> FailedEvent? { try await store.failedEvent(requestID: requestID) }
    func redrive(_ requestIDs: [String]?, now: Int64) async throws -> [String] { try await store.redrive(requestIDs, now: now) }
    func undeliverableRecords(limit: Int) async throws -> [UndeliverableRecord] { try await store.undeliverableRecords(limit: limit) }
    func createQueue(_ name: String, attributes: QueueAttributes, now: Int64) async throws -> QueueState {
        try await store.createQueue(name, attributes: attributes, now: now)
    }
    func queue(_ name: String, now: Int64) async throws -> QueueState? { try await store.queue(name, now: now) }
    func queueSettings(_ name: String) async throws -> QueueState? { try await store.queueSettings(name) }
    func queueNames() async throws -> [String] { try await store.queueNames() }
    func setQueueAttributes(_ name: String, _ attributes: QueueAttributes, now: Int64) async throws {
        try await store.setQueueAttributes(name, attributes, now: now)
    }
    func deleteQueue(_ name: String) async throws { try await store.deleteQueue(name) }
    func purgeQueue(_ name: String) async throws { try await store.purgeQueue(name) }
    func send(_ messages: [QueueMessage], to queue: String, now: Int64) async throws -> [String] {
        try await store.send(messages, to: queue, now: now)
    }
    func receive(from queue: String, limit: Int, visibilityMilliseconds: Int64?, now: Int64) async throws -> [ReceivedMessage] {
        try await store.receive(from: queue, limit: limit, visibilityMilliseconds: visibilityMilliseconds, now: now)
    }
    func delete(from queue: String, receiptHandle: String) async throws -> Bool { try await store.delete(from: queue, receiptHandle: receiptHandle) }
    func changeVisibility(in queue: String, receiptHandle: String, visibilityMilliseconds: Int64, now: Int64) async throws -> VisibilityChange {
        try await store.changeVisibility(in: queue, receiptHandle: receiptHandle, visibilityMilliseconds: visibilityMilliseconds, now: now)
    }
}
