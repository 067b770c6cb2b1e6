/// A message attribute as SQS and SNS carry it: `String`, `Number` or `Binary` (optionally with a
/// custom suffix such as `Number.float`), the value as text (base64 for binary values).
public struct MessageAttribute: Sendable, Hashable, Codable {
    public var name: String
    public var dataType: String
    public var value: String

    public init(name: String, dataType: String, value: String) {
        self.name = name
        self.dataType = dataType
        self.value = value
    }
}

extension MessageAttribute {
    /// SQS's and SNS's limit on attributes per message.
    public static let maximumCount = 10

    /// Why `name` cannot name a message attribute (1-256 of letters, digits, `_`, `-` and `.`,
    /// not starting with `AWS.` or `Amazon.`, no `..`), nil when it can.
    public static func nameProblem(_ name: String) -> String? {
        guard (1...256).contains(name.utf8.count) else { return "a message attribute name must be 1-256 characters" }
        guard name.utf8.allSatisfy({ byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || "_-.".utf8.contains(byte)
        }) else { return "a message attribute name may hold only letters, digits, '_', '-' and '.'" }
        guard !name.hasPrefix("."), !name.hasSuffix("."), !name.contains("..") else {
            return "a message attribute name must not start or end with '.' or hold '..'"
        }
        guard !name.lowercased().hasPrefix("aws."), !name.lowercased().hasPrefix("amazon.") else {
            return "a message attribute name must not start with AWS. or Amazon."
        }
        return nil
    }

    /// Whether `text` is a `Number` attribute's value: a finite decimal number (an optional sign,
    /// digits with an optional fraction, an optional exponent), as SQS and SNS take them. `nan`,
    /// `inf` and hexadecimal, which Swift's `Double(_:)` reads, are not numbers here.
    public static func isValidNumber(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 512 else { return false }
        var index = 0
        func digits() -> Int {
            let start = index
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
            return index - start
        }
        if bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") { index += 1 }
        var count = digits()
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            count += digits()
        }
        guard count > 0 else { return false }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") { index += 1 }
            guard digits() > 0 else { return false }
        }
        guard index == bytes.count, let value = Double(text) else { return false }
        return value.isFinite
    }
}
