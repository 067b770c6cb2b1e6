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
        /// The events' keys, index for index.
        var keys: [EventKey] = []
        var leaseUntil: Int64 = 0

        mutating func append(_ event: AsyncEvent, key: EventKey, leaseUntil until: Int64) {
            events.append(event)
            keys.append(key)
            leaseUntil = max(leaseUntil, until)
        }
    }

    /// Most events and bytes in one row: claims take rows whole where they can, and a row is
    /// decoded whole whenever any event of it is touched.
    static let eventsPerRow = 128
    static let bytesPerRow = 256 * 1024

    private var locations: [EventKey: Location] = [:]
    private var journal: [(EventKey, Location?)] = []
    /// The open transaction's buffers, in the order their keys first came, with an index; a group
    /// of accepts mostly buffers for one function, so the last key used is checked first.
    private var buffers: [(key: BufferKey, buffer: Buffer)] = []
    private var bufferIndex: [BufferKey: Int] = [:]
    private var lastBuffer = 0
    private var bufferedIDs: Set<EventKey> = []

    func location(of key: EventKey) -> Location? { locations[key] }

    /// Whether an event with this id waits in a batch row or in the open transaction's buffer.
    func holds(_ key: EventKey) -> Bool {
        locations[key] != nil || bufferedIDs.contains(key)
    }

    func setLocation(_ location: Location?, of key: EventKey) {
        let previous = location == nil ? locations.removeValue(forKey: key) : locations.updateValue(location!, forKey: key)
        journal.append((key, previous))
    }

    func buffer(_ event: AsyncEvent, key: EventKey, lease: EventLease?) {
        let bufferKey = BufferKey(functionName: event.functionName, owner: lease?.owner)
        if lastBuffer >= buffers.count || buffers[lastBuffer].key != bufferKey {
            if let known = bufferIndex[bufferKey] {
                lastBuffer = known
            } else {
                lastBuffer = buffers.count
                bufferIndex[bufferKey] = lastBuffer
                buffers.append((bufferKey, Buffer()))
            }
        }
        buffers[lastBuffer].buffer.append(event, key: key, leaseUntil: lease?.untilMilliseconds ?? 0)
        bufferedIDs.insert(key)
    }

    /// Empties the buffer (its rows are being written).
    func takeBuffers() -> [(key: BufferKey, buffer: Buffer)] {
        defer {
            buffers.removeAll(keepingCapacity: true)
            bufferIndex.removeAll(keepingCapacity: true)
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
        bufferIndex.removeAll()
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
        guard bytes.count == 36, let base = bytes.baseAddress else { return nil }
        let dash = UInt8(ascii: "-")
        guard base[8] == dash, base[13] == dash, base[18] == dash, base[23] == dash else { return nil }
        var valid = true
        func digits(_ range: Range<Int>, into word: inout UInt64) {
            for index in range {
                let byte = base[index]
                let decimal = byte &- UInt8(ascii: "0"), letter = byte &- UInt8(ascii: "a")
                let value = decimal < 10 ? decimal : letter &+ 10
                valid = valid && (decimal < 10 || letter < 6)
                word = word << 4 | UInt64(value & 0xF)
            }
        }
        var high: UInt64 = 0, low: UInt64 = 0
        digits(0..<8, into: &high)
        digits(9..<13, into: &high)
        digits(14..<18, into: &high)
        digits(19..<23, into: &low)
        digits(24..<36, into: &low)
        return valid ? (high, low) : nil
    }
}
