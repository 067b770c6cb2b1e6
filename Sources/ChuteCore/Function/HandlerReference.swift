/// Which symbol of the library a function calls, and how.
public enum HandlerReference: Sendable, Hashable, CustomStringConvertible {
    /// An entry point of the Chute ABI (`int32_t NAME(host, call, state, event, len)`).
    case entryPoint(symbol: String)
    /// A plain C function with a declared signature; the event is a JSON array of its arguments.
    case declared(DeclaredSignature)

    /// The default entry point symbol.
    public static let defaultSymbol = "chute_handle"

    public var symbol: String {
        switch self {
        case .entryPoint(let symbol): symbol
        case .declared(let signature): signature.symbol
        }
    }

    public var description: String {
        switch self {
        case .entryPoint(let symbol): symbol
        case .declared(let signature): signature.description
        }
    }

    /// Parses a handler as written in a configuration file: `SYMBOL` or `SYMBOL(TYPES)->TYPE[@FREE]`.
    public static func parse(_ text: String) throws(ConfigurationError) -> HandlerReference {
        let trimmed = text.filter { !$0.isWhitespace }
        guard !trimmed.isEmpty else {
            throw ConfigurationError("handler is empty; name an entry point symbol such as \(defaultSymbol)")
        }
        if trimmed.contains("(") {
            return .declared(try DeclaredSignature.parse(trimmed))
        }
        guard CIdentifier.isValid(trimmed) else {
            throw ConfigurationError("handler '\(text)' is not a C symbol name (letters, digits and '_', not starting with a digit)")
        }
        return .entryPoint(symbol: trimmed)
    }

    /// Parses the `Handler` field of the Lambda API: `FILE:SYMBOL` or `FILE:SYMBOL(TYPES)->TYPE`.
    /// Returns the library file inside the function's package and the reference.
    public static func parseHandlerField(_ field: String) throws(ConfigurationError) -> (file: String, handler: HandlerReference) {
        guard let colon = field.firstIndex(of: ":") else {
            throw ConfigurationError("Handler '\(field)' must be FILE:SYMBOL, e.g. libthumbs.so:resize, or FILE:SYMBOL(TYPES)->TYPE")
        }
        let file = String(field[..<colon])
        let rest = String(field[field.index(after: colon)...])
        guard !file.isEmpty else { throw ConfigurationError("Handler '\(field)' names no library file before ':'") }
        return (file, try parse(rest))
    }
}

/// C identifiers, as symbol names must be.
public enum CIdentifier {
    public static func isValid(_ name: some StringProtocol) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            return false
        }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
        }
    }
}
