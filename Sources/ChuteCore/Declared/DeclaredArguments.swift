import FoundationEssentials

/// Turns an event (a JSON array) into the arguments of a declared signature, and a return value
/// back into JSON. Pure: problems come back as text for an Unhandled outcome, never as throws.
public enum DeclaredArguments {
    /// Decodes `event` as a JSON array with one element per parameter. The event comes from a
    /// request, so it is read with `JSONValue`, whose nesting is limited (a recursive decoder
    /// once met 100,000 nested brackets).
    public static func decode(event: [UInt8], for signature: DeclaredSignature) -> Result<[CValue], DeclaredValueProblem> {
        guard case .array(let values)? = try? JSONValue.parse(event) else {
            return .failure(DeclaredValueProblem("the event must be a JSON array of \(signature.parameters.count) argument(s) for \(signature), got \(preview(event))"))
        }
        guard values.count == signature.parameters.count else {
            return .failure(DeclaredValueProblem("\(signature) takes \(signature.parameters.count) argument(s); the event has \(values.count)"))
        }
        var arguments: [CValue] = []
        arguments.reserveCapacity(values.count)
        for (index, (type, value)) in zip(signature.parameters, values).enumerated() {
            guard let argument = convert(value, to: type) else {
                return .failure(DeclaredValueProblem("argument \(index + 1) of \(signature): expected \(expectation(type)), got \(kind(value))"))
            }
            arguments.append(argument)
        }
        return .success(arguments)
    }

    /// Encodes a return value as JSON.
    public static func encode(result: CValue) -> Result<[UInt8], DeclaredValueProblem> {
        switch result {
        case .void: return .success(Array("null".utf8))
        case .bool(let value): return .success(Array((value ? "true" : "false").utf8))
        case .int32(let value): return .success(Array(String(value).utf8))
        case .int64(let value): return .success(Array(String(value).utf8))
        case .double(let value):
            guard value.isFinite else {
                return .failure(DeclaredValueProblem("the function returned \(value), which JSON cannot represent"))
            }
            if value == value.rounded(), abs(value) < 1e15 { return .success(Array(String(Int64(value)).utf8)) }
            return .success(Array("\(value)".utf8))
        case .cstring(nil): return .success(Array("null".utf8))
        case .cstring(let bytes?), .bytes(let bytes):
            guard let string = String(validating: bytes, as: UTF8.self) else {
                return .failure(DeclaredValueProblem("the function returned a string that is not valid UTF-8"))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            guard let data = try? encoder.encode(string) else {
                return .failure(DeclaredValueProblem("the function returned a string JSON cannot represent"))
            }
            return .success(Array(data))
        }
    }

    private static func convert(_ value: JSONValue, to type: CType) -> CValue? {
        switch (type, value) {
        case (.int32, .number(let text)): integer(text).flatMap(Int32.init(exactly:)).map(CValue.int32)
        case (.int64, .number(let text)): integer(text).map(CValue.int64)
        case (.double, .number(let text)): Double(text).flatMap { $0.isFinite ? CValue.double($0) : nil }
        case (.bool, .bool(let flag)): .bool(flag)
        case (.cstring, .string(let text)): text.utf8.contains(0) ? nil : .cstring(Array(text.utf8))
        case (.cstring, .null): .cstring(nil)
        case (.bytes, .string(let text)): .bytes(Array(text.utf8))
        case (.bytes, .array(let items)):
            byteValues(items).map(CValue.bytes)
        default: nil
        }
    }

    /// A JSON number that is a whole 64-bit integer (`5`, `-7`, `5.0`, `1e3`), nil otherwise.
    private static func integer(_ text: String) -> Int64? {
        if let exact = Int64(text) { return exact }
        guard let number = Double(text), number == number.rounded(), abs(number) < 9.2e18 else { return nil }
        return Int64(number)
    }

    private static func byteValues(_ items: [JSONValue]) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(items.count)
        for item in items {
            guard case .number(let text) = item, let value = integer(text), let byte = UInt8(exactly: value) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    private static func kind(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let flag): "\(flag)"
        case .number(let text): text.count > 40 ? String(text.prefix(40)) + "..." : text
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    private static func expectation(_ type: CType) -> String {
        switch type {
        case .int32: "an integer from -2147483648 to 2147483647"
        case .int64: "a 64-bit integer"
        case .double: "a number"
        case .bool: "true or false"
        case .cstring: "a string without NUL characters, or null"
        case .bytes: "a string or an array of integers 0-255"
        case .void: "nothing"
        }
    }

    private static func preview(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(60), as: UTF8.self)
        return bytes.count > 60 ? "'\(text)...'" : "'\(text)'"
    }
}

/// Why an event or a return value does not fit a declared signature.
public struct DeclaredValueProblem: Error, Sendable, Hashable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
