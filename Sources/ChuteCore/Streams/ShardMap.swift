/// How a stream's shards divide the 128-bit hash key space, as Kinesis does: shard `i` of `n`
/// starts at ⌊i · 2¹²⁸ / n⌋, and a record goes to the shard whose range holds the MD5 of its
/// partition key (read as a big-endian 128-bit number) or its explicit hash key.
public struct ShardMap: Sendable, Hashable {
    public let shardCount: Int

    public init(shardCount: Int) {
        precondition(shardCount > 0, "a stream has at least one shard")
        self.shardCount = shardCount
    }

    /// `shardId-000000000003`
    public static func shardID(_ index: Int) -> String {
        let digits = String(index)
        return "shardId-" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }

    /// The index in `shardId-000000000003`, nil for anything else (`shardId--1`, `shardId-+1`,
    /// more digits than an index has).
    public static func shardIndex(_ shardID: String) -> Int? {
        guard shardID.hasPrefix("shardId-") else { return nil }
        let digits = shardID.utf8.dropFirst("shardId-".utf8.count)
        guard (1...12).contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Int(Substring(digits))
    }

    public func startingHashKey(_ index: Int) -> UInt128 {
        // ⌊i · 2¹²⁸ / n⌋ with 2¹²⁸ = q·n + r + 1 (q, r from UInt128.max): i·q + ⌊i·(r+1) / n⌋.
        let n = UInt128(shardCount)
        let (q, r) = UInt128.max.quotientAndRemainder(dividingBy: n)
        let i = UInt128(index)
        return i * q + i * (r + 1) / n
    }

    public func endingHashKey(_ index: Int) -> UInt128 {
        index == shardCount - 1 ? UInt128.max : startingHashKey(index + 1) - 1
    }

    /// The shard whose range holds `hashKey`.
    public func shard(for hashKey: UInt128) -> Int {
        var low = 0, high = shardCount - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if startingHashKey(middle) <= hashKey { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// A 16-byte digest (MD5 of the partition key) as the big-endian number Kinesis reads it as.
    public static func hashKey(digest: some Sequence<UInt8>) -> UInt128 {
        digest.prefix(16).reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
    }

    /// An `ExplicitHashKey` as given (a decimal number below 2¹²⁸), nil when it is not one.
    public static func hashKey(decimal text: String) -> UInt128? {
        // Kinesis's pattern: 0|([1-9]\d{0,38}); Swift's reader would also take "+5".
        guard (1...39).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return UInt128(text)
    }
}
