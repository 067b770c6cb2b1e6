import FoundationEssentials

/// Turns an event (a JSON array) into the arguments of a declared signature, and a return value
/// back into JSON. Pure: problems come back as text for an Unhandled outcome, never as throws.
public enum DeclaredArguments {
    /// Decodes `event` as a JSON array with one element per parameter.
    public static func decode(event: [UInt8], for signature: DeclaredSignature) -> Result<[CValue], DeclaredValueProblem> {
        let values: [DecodedJSON]
        do {
            values = try JSONDecoder().decode([DecodedJSON].self, from: Data(event))
        } catch {
            return .failure(DeclaredValueProblem("the event must be a JSON array of \(signature.parameters.count) argument(s) for \(signature), got \(preview(event))"))
        }
        guard values.count == signature.parameters.count else {
            return .failure(DeclaredValueProblem("\(signature) takes \(signature.parameters.count) argument(s); the event has \(values.count)"))
        }
        var arguments: [CValue] = []
        arguments.reserveCapacity(values.count)
        for (index, (type, value)) in zip(signature.parameters, values).enumerated() {
            guard let argument = convert(value, to: type) else {
                return .failure(DeclaredValueProblem("argument \(index + 1) of \(signature): expected \(expectation(type)), got \(value.kind)"))
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

    private static func convert(_ value: DecodedJSON, to type: CType) -> CValue? {
        switch (type, value) {
        case (.int32, .integer(let number)): Int32(exactly: number).map(CValue.int32)
        case (.int64, .integer(let number)): .int64(number)
        case (.double, .integer(let number)): .double(Double(number))
        case (.double, .number(let number)): .double(number)
        case (.bool, .bool(let flag)): .bool(flag)
        case (.cstring, .string(let text)): text.utf8.contains(0) ? nil : .cstring(Array(text.utf8))
        case (.cstring, .null): .cstring(nil)
        case (.bytes, .string(let text)): .bytes(Array(text.utf8))
        case (.bytes, .array(let items)):
            items.allSatisfy({ if case .integer(let byte) = $0 { (0...255).contains(byte) } else { false } })
                ? .bytes(items.map { if case .integer(let byte) = $0 { UInt8(byte) } else { 0 } }) : nil
        default: nil
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

/// Just enough JSON to read declared-signature arguments (Foundation's decoder; `JSONValue` keeps numbers as written).
enum DecodedJSON: Decodable {
    case null, bool(Bool), integer(Int64), number(Double), string(String), array([DecodedJSON]), object

    init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var items: [DecodedJSON] = []
            while !array.isAtEnd { items.append(try array.decode(DecodedJSON.self)) }
            self = .array(items)
            return
        }
        if (try? decoder.container(keyedBy: AnyKey.self)) != nil {
            self = .object
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() { self = .null }
        else if let flag = try? single.decode(Bool.self) { self = .bool(flag) }
        else if let integer = try? single.decode(Int64.self) { self = .integer(integer) }
        else if let number = try? single.decode(Double.self) { self = .number(number) }
        else { self = .string(try single.decode(String.self)) }
    }

    var kind: String {
        switch self {
        case .null: "null"
        case .bool(let flag): "\(flag)"
        case .integer(let value): "\(value)"
        case .number(let value): "\(value)"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int?
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }
}
