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

    /// Kinesis's sequence numbers are decimal numbers of up to 129 digits (128-bit and wider);
    /// clients may send any of them. A stream of Chute's numbers its records below 2⁶³ (the
    /// stores' integer), so a well-formed number past that did not come from any of its streams.
    public static let maximumDigits = 129

    /// Whether `text` is shaped as a sequence number: 1 to 129 decimal digits.
    public static func isWellFormedSequenceNumber(_ text: String) -> Bool {
        (1...maximumDigits).contains(text.utf8.count) && text.utf8.allSatisfy { (0x30...0x39).contains($0) }
    }

    /// The sequence in a sequence number; nil for anything else, including well-formed numbers
    /// no record of Chute's can have (2⁶³ and above).
    public static func sequence(_ sequenceNumber: String) -> UInt64? {
        guard isWellFormedSequenceNumber(sequenceNumber) else { return nil }
        let digits = sequenceNumber.drop { $0 == "0" }
        guard !digits.isEmpty else { return 0 }
        guard let value = Int64(digits) else { return nil }  // past 2⁶³ - 1: from no stream here
        return UInt64(value)
    }
}
