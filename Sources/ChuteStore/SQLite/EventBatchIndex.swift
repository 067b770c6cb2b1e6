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

        mutating func append(_ event: AsyncEvent, leaseUntil until: Int64) {
            events.append(event)
            leaseUntil = max(leaseUntil, until)
        }
    }

    /// Most events and bytes in one row: claims take rows whole where they can, and a row is
    /// decoded whole whenever any event of it is touched.
    static let eventsPerRow = 128
    static let bytesPerRow = 256 * 1024

    private var locations: [EventKey: Location] = [:]
    private var journal: [(EventKey, Location?)] = []
    private(set) var buffers: [BufferKey: Buffer] = [:]
    private var bufferedIDs: Set<EventKey> = []

    func location(of requestID: String) -> Location? { locations[EventKey(requestID)] }

    /// Whether an event with this id waits in a batch row or in the open transaction's buffer.
    func holds(_ requestID: String) -> Bool {
        let key = EventKey(requestID)
        return locations[key] != nil || bufferedIDs.contains(key)
    }

    func setLocation(_ location: Location?, of requestID: String) {
        let key = EventKey(requestID)
        let previous = location == nil ? locations.removeValue(forKey: key) : locations.updateValue(location!, forKey: key)
        journal.append((key, previous))
    }

    func buffer(_ event: AsyncEvent, lease: EventLease?) {
        buffers[BufferKey(functionName: event.functionName, owner: lease?.owner), default: Buffer()]
            .append(event, leaseUntil: lease?.untilMilliseconds ?? 0)
        bufferedIDs.insert(EventKey(event.requestID))
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
        for (key, previous) in journal.reversed() { locations[key] = previous }
        journal.removeAll(keepingCapacity: true)
        buffers.removeAll()
        bufferedIDs.removeAll()
    }

    /// Splits a function's buffered events into rows within the row limits.
    static func rows(of events: [AsyncEvent]) -> [ArraySlice<AsyncEvent>] {
        rowChunks(events, maxCount: eventsPerRow, maxBytes: bytesPerRow) { 64 + $0.requestID.utf8.count + $0.payload.count }
    }
}

/// A request id as the index keys it. Ids the host makes are lowercase UUIDs: packed into two
/// words, they hash and compare in a few instructions instead of as 36-byte strings (hashing ids
/// was a tenth of the writer's time in a flood). Any other id is kept as its text.
struct EventKey: Hashable {
    private var high: UInt64 = 0
    private var low: UInt64 = 0
    private var text: String?

    init(_ requestID: String) {
        var id = requestID
        if let packed = id.withUTF8(Self.pack) {
            (high, low) = packed
        } else {
            text = requestID
        }
    }

    /// The 128 bits of a canonical lowercase UUID (`8-4-4-4-12` hex digits), or nil.
    private static func pack(_ bytes: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64)? {
        guard bytes.count == 36 else { return nil }
        var words: (UInt64, UInt64) = (0, 0)
        var digits = 0
        for (index, byte) in bytes.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard byte == UInt8(ascii: "-") else { return nil }
                continue
            }
            let value: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = byte &- UInt8(ascii: "a") &+ 10
            default: return nil
            }
            if digits < 16 {
                words.0 = words.0 << 4 | UInt64(value)
            } else {
                words.1 = words.1 << 4 | UInt64(value)
            }
            digits += 1
        }
        return words
    }
}
