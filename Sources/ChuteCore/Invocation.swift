import Synchronization

/// One request to run a function's handler on an event.
public struct Invocation: Sendable, Hashable {
    /// Stays the same across retries of an event, so handlers can deduplicate.
    public var requestID: String
    /// 1 for the first attempt, 2 for the first retry, ...
    public var attempt: Int
    public var payload: [UInt8]

    public init(requestID: String = RequestID.make(), attempt: Int = 1, payload: [UInt8]) {
        self.requestID = requestID
        self.attempt = attempt
        self.payload = payload
    }
}

/// Request ids: random UUIDs in Lambda's lowercase form.
public enum RequestID {
    /// A version-4 UUID: two draws from the system generator (one `getrandom` each) written
    /// straight into the string; ids are made for every event and queue message.
    public static func make() -> String {
        let (high, low) = randomBits()
        return format(high: (high & ~0x0000_0000_0000_F000) | 0x0000_0000_0000_4000, low: low)  // version 4
    }

    /// A version-7 UUID: the first 48 bits are `milliseconds` since the epoch, the rest random.
    /// Ids made later sort later, so an index over them grows at its end instead of touching
    /// random pages (queue message ids: one per destination record).
    public static func makeTimeOrdered(milliseconds: Int64) -> String {
        let (random, low) = randomBits()
        let high = UInt64(UInt64(bitPattern: milliseconds) << 16) | 0x7000 | (random & 0x0FFF)  // version 7
        return format(high: high, low: low)
    }

    /// Ids need to be unique, not secret: a xoshiro256** generator seeded once from the system
    /// (a `getrandom` call per id was a measurable share of the pipeline).
    private static let generator = Mutex(Xoshiro256StarStar())

    private static func randomBits() -> (UInt64, UInt64) {
        generator.withLock { ($0.next(), $0.next()) }
    }

    private static func format(high: UInt64, low randomLow: UInt64) -> String {
        let low = (randomLow & ~0xC000_0000_0000_0000) | 0x8000_0000_0000_0000  // RFC 4122 variant
        return String(unsafeUninitializedCapacity: 36) { buffer in
            let digits: StaticString = "0123456789abcdef"
            var position = 0
            func put(_ value: UInt64, nibbles: Int) {
                for shift in stride(from: (nibbles - 1) * 4, through: 0, by: -4) {
                    buffer[position] = digits.utf8Start[Int((value >> UInt64(shift)) & 0xF)]
                    position += 1
                }
            }
            func dash() { buffer[position] = UInt8(ascii: "-"); position += 1 }
            put(high >> 32, nibbles: 8); dash()
            put(high >> 16, nibbles: 4); dash()
            put(high, nibbles: 4); dash()
            put(low >> 48, nibbles: 4); dash()
            put(low, nibbles: 12)
            return position
        }
    }
}

/// xoshiro256** (Blackman and Vigna): fast, 256 bits of state, seeded from the system generator.
struct Xoshiro256StarStar: RandomNumberGenerator {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    init() {
        var system = SystemRandomNumberGenerator()
        state = (system.next(), system.next(), system.next(), system.next())
        if state == (0, 0, 0, 0) { state.0 = 1 }
    }

    mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotate(state.3, 45)
        return result
    }

    private func rotate(_ value: UInt64, _ count: UInt64) -> UInt64 { (value << count) | (value >> (64 - count)) }
}
