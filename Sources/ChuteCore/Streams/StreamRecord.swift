/// One record of a built-in stream, as stored and as consumers read it.
public struct StreamRecord: Sendable, Hashable {
    public var shardID: String
    /// Increases with every record the stream takes (unique across its shards).
    public var sequence: UInt64
    public var partitionKey: String
    public var data: [UInt8]
    public var arrivalMilliseconds: Int64

    public init(shardID: String, sequence: UInt64, partitionKey: String, data: [UInt8], arrivalMilliseconds: Int64) {
        self.shardID = shardID
        self.sequence = sequence
        self.partitionKey = partitionKey
        self.data = data
        self.arrivalMilliseconds = arrivalMilliseconds
    }

    /// The sequence number as Kinesis clients see it: decimal digits, zero-padded so that text
    /// order is number order.
    public var sequenceNumber: String { Self.sequenceNumber(sequence) }

    public static func sequenceNumber(_ sequence: UInt64) -> String {
        let digits = String(sequence)
        return String(repeating: "0", count: max(0, 21 - digits.count)) + digits
    }

    /// The sequence in a sequence number, nil for anything else.
    public static func sequence(_ sequenceNumber: String) -> UInt64? {
        guard !sequenceNumber.isEmpty, sequenceNumber.allSatisfy(\.isASCII) else { return nil }
        return UInt64(sequenceNumber)
    }
}
