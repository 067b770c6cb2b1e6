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
