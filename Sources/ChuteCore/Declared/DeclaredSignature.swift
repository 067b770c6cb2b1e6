/// A plain C function's signature, declared in a form that fits both a configuration file and the
/// `Handler` field of the Lambda API (no spaces): `SYMBOL(TYPE,TYPE,...)->TYPE[@FREE]`.
///
/// Example: `hypot(double,double)->double`. `@FREE` names a function (`void FREE(void *)`) the host
/// calls on a returned `cstring` once it has copied it, e.g. `make_label(int32)->cstring@free`.
public struct DeclaredSignature: Sendable, Hashable, CustomStringConvertible {
    public var symbol: String
    public var parameters: [CType]
    public var returnType: CType
    public var freeFunction: String?

    public init(symbol: String, parameters: [CType], returnType: CType, freeFunction: String? = nil) {
        self.symbol = symbol
        self.parameters = parameters
        self.returnType = returnType
        self.freeFunction = freeFunction
    }

    public var description: String {
        let free = freeFunction.map { "@\($0)" } ?? ""
        return "\(symbol)(\(parameters.map(\.rawValue).joined(separator: ",")))->\(returnType.rawValue)\(free)"
    }

    public static func parse(_ text: String) throws(ConfigurationError) -> DeclaredSignature {
        let form = "write SYMBOL(TYPE,...)->TYPE, e.g. hypot(double,double)->double"
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close else {
            throw ConfigurationError("signature '\(text)' is malformed; \(form)")
        }
        let symbol = String(text[..<open])
        guard CIdentifier.isValid(symbol) else {
            throw ConfigurationError("signature '\(text)': '\(symbol)' is not a C symbol name")
        }
        let inside = text[text.index(after: open)..<close]
        var parameters: [CType] = []
        if !inside.isEmpty {
            for (index, name) in inside.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
                guard let type = CType(rawValue: String(name)) else {
                    throw ConfigurationError("signature '\(text)': parameter \(index + 1) has unknown type '\(name)'; use one of \(CType.vocabulary)")
                }
                guard type != .void else {
                    if name == "void" && inside == "void" { break }  // `f(void)` means no parameters
                    throw ConfigurationError("signature '\(text)': void is only allowed as the return type")
                }
                parameters.append(type)
            }
        }
        let tail = text[text.index(after: close)...]
        guard tail.hasPrefix("->") else {
            throw ConfigurationError("signature '\(text)' has no return type; \(form)")
        }
        var returnText = String(tail.dropFirst(2))
        var freeFunction: String?
        if let at = returnText.firstIndex(of: "@") {
            let name = String(returnText[returnText.index(after: at)...])
            guard CIdentifier.isValid(name) else {
                throw ConfigurationError("signature '\(text)': free function '\(name)' is not a C symbol name")
            }
            freeFunction = name
            returnText = String(returnText[..<at])
        }
        guard let returnType = CType(rawValue: returnText) else {
            throw ConfigurationError("signature '\(text)': unknown return type '\(returnText)'; use one of \(CType.vocabulary)")
        }
        guard returnType != .bytes else {
            throw ConfigurationError("signature '\(text)': bytes is an argument type only (a pointer and a length); return cstring instead")
        }
        if freeFunction != nil && returnType != .cstring {
            throw ConfigurationError("signature '\(text)': a free function only applies to a cstring return value")
        }
        return DeclaredSignature(symbol: symbol, parameters: parameters, returnType: returnType, freeFunction: freeFunction)
    }
}

/// The small vocabulary of C types a declared signature may use.
public enum CType: String, Sendable, Hashable, CaseIterable {
    /// `int32_t`, from a JSON integer.
    case int32
    /// `int64_t`, from a JSON integer.
    case int64
    /// `double`, from a JSON number.
    case double
    /// `bool` (C11 `_Bool`), from JSON true/false.
    case bool
    /// `const char *`, NUL-terminated, from a JSON string or null.
    case cstring
    /// Two C parameters, `const uint8_t *` and `size_t`, from a JSON string (its UTF-8 bytes) or an
    /// array of integers 0-255. Arguments only.
    case bytes
    /// No value; return type only (the result is JSON null).
    case void

    static var vocabulary: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
