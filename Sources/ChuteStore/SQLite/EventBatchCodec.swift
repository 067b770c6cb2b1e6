import ChuteCore

/// The bytes of an event batch row: fresh events of one function, stored together so that
/// accepting, claiming and settling them costs one row, not one row (and its index entries) each.
///
/// Only what a fresh event carries is kept (no attempt counts, no failure): an event that runs
/// again is stored as a row of its own.
///
/// Layout, little-endian: `u32 count`, then per event `u16 length, request id`, `u16 length,
/// qualifier`, `i64 received at`, `i64 due at`, `u32 chain depth and allowance` (`ChainPacking`),
/// `u32 length, payload`.
enum EventBatchCodec {
    /// Whether `event` can go into a batch: never run, due on arrival.
    static func isBatchable(_ event: AsyncEvent) -> Bool {
        event.invokeCount == 0 && event.requeueCount == 0 && event.lastFailure == nil
            && event.dueAtMilliseconds <= event.receivedAtMilliseconds
            && event.requestID.utf8.count <= Int(UInt16.max) && event.qualifier.utf8.count <= Int(UInt16.max)
    }

    static func encode(_ events: some Collection<AsyncEvent>) -> [UInt8] {
        var writer = ByteWriter(capacity: 4 + events.reduce(0) { $0 + 64 + $1.requestID.utf8.count + $1.payload.count })
        writer.integer(UInt32(events.count))
        for event in events {
            writer.short(event.requestID.utf8)
            writer.short(event.qualifier.utf8)
            writer.integer(UInt64(bitPattern: event.receivedAtMilliseconds))
            writer.integer(UInt64(bitPattern: event.dueAtMilliseconds))
            writer.integer(UInt32(truncatingIfNeeded: ChainPacking.pack(event)))
            writer.long(event.payload)
        }
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8], functionName: String) throws(StoreError) -> [AsyncEvent] {
        var reader = ByteReader(bytes: bytes)
        guard let count = reader.integer(UInt32.self) else { throw corrupt(functionName) }
        var events: [AsyncEvent] = []
        events.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let id = reader.short(), let qualifier = reader.short(),
                  let received = reader.integer(UInt64.self), let due = reader.integer(UInt64.self),
                  let depth = reader.integer(UInt32.self), let payload = reader.long()
            else { throw corrupt(functionName) }
            var event = AsyncEvent(requestID: String(decoding: id, as: UTF8.self), functionName: functionName,
                                   qualifier: String(decoding: qualifier, as: UTF8.self), payload: Array(payload),
                                   receivedAtMilliseconds: Int64(bitPattern: received))
            event.dueAtMilliseconds = Int64(bitPattern: due)
            ChainPacking.unpack(Int64(depth), into: &event)
            events.append(event)
        }
        return events
    }

    private static func corrupt(_ functionName: String) -> StoreError {
        StoreError("an event batch of the function \(functionName) is corrupt (it ends before its last event)")
    }
}

/// Which events of a batch row are finished (settled, or moved to a row of their own): one bit
/// per event, in a blob of fixed size so that marking events rewrites only that part of the row.
struct DoneEvents: Sendable, Hashable {
    private(set) var bits: [UInt8]
    let count: Int

    init(count: Int) {
        self.count = count
        bits = Array(repeating: 0, count: (count + 7) / 8)
    }

    init(bits: [UInt8], count: Int) {
        self.count = count
        self.bits = bits.count == (count + 7) / 8 ? bits : Array(repeating: 0, count: (count + 7) / 8)
    }

    func contains(_ slot: Int) -> Bool { bits[slot / 8] & (1 << UInt8(slot % 8)) != 0 }
    mutating func insert(_ slot: Int) { bits[slot / 8] |= 1 << UInt8(slot % 8) }
    var isComplete: Bool { (0..<count).allSatisfy(contains) }
    var remaining: Int { (0..<count).count { !contains($0) } }
}
