import ChuteCore

/// What the SQLite store keeps in memory about its event batch rows: where each pending batched
/// event is (its row and slot), and the batchable events accepted in the transaction now open,
/// written as rows just before it commits (so a group commit of many one-event accepts still
/// writes one row per function).
///
/// Used only on the store's writer queue. Every change is journaled until the transaction ends:
/// a group that rolls back undoes its changes here too. Rebuilt from the rows when the store opens
/// (decoding every pending batch once). It costs about 100 bytes of memory per pending batched
/// event: a backlog of a million fresh events holds about 100 MB here.
final class EventBatchIndex: @unchecked Sendable {
    struct Location: Hashable {
        var batch: Int64
        var slot: Int
    }

    /// Batchable events waiting for the transaction's end, by function and lease holder.
    struct BufferKey: Hashable {
        var functionName: String
        var owner: String?
    }

    struct Buffer {
        var events: [AsyncEvent] = []
        var leaseUntil: Int64 = 0
    }

    /// Most events and bytes in one row: claims take rows whole where they can, and a row is
    /// decoded whole whenever any event of it is touched.
    static let eventsPerRow = 128
    static let bytesPerRow = 256 * 1024

    private var locations: [String: Location] = [:]
    private var journal: [(String, Location?)] = []
    private(set) var buffers: [BufferKey: Buffer] = [:]
    private var bufferedIDs: Set<String> = []

    func location(of requestID: String) -> Location? { locations[requestID] }

    /// Whether an event with this id waits in a batch row or in the open transaction's buffer.
    func holds(_ requestID: String) -> Bool { locations[requestID] != nil || bufferedIDs.contains(requestID) }

    func setLocation(_ location: Location?, of requestID: String) {
        journal.append((requestID, locations[requestID]))
        locations[requestID] = location
    }

    func buffer(_ event: AsyncEvent, lease: EventLease?) {
        let key = BufferKey(functionName: event.functionName, owner: lease?.owner)
        buffers[key, default: Buffer()].events.append(event)
        buffers[key]!.leaseUntil = max(buffers[key]!.leaseUntil, lease?.untilMilliseconds ?? 0)
        bufferedIDs.insert(event.requestID)
    }

    /// Empties the buffer (its rows are being written).
    func takeBuffers() -> [BufferKey: Buffer] {
        defer {
            buffers.removeAll(keepingCapacity: true)
            bufferedIDs.removeAll(keepingCapacity: true)
        }
        return buffers
    }

    /// The transaction committed: its changes stay.
    func commit() {
        journal.removeAll(keepingCapacity: true)
    }

    /// The transaction rolled back: its changes are undone and its buffered events dropped (their
    /// callers are told the accept failed, or it is tried again alone).
    func rollback() {
        for (requestID, previous) in journal.reversed() { locations[requestID] = previous }
        journal.removeAll(keepingCapacity: true)
        buffers.removeAll()
        bufferedIDs.removeAll()
    }

    /// Splits a function's buffered events into rows within the row limits.
    static func rows(of events: [AsyncEvent]) -> [ArraySlice<AsyncEvent>] {
        rowChunks(events, maxCount: eventsPerRow, maxBytes: bytesPerRow) { 64 + $0.requestID.utf8.count + $0.payload.count }
    }
}
