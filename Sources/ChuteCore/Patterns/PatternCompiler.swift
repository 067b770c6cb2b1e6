/// Turns a pattern's JSON text into a `PatternObject`, checking every rule of the syntax and
/// naming the path, line and column of the first problem.
struct PatternCompiler {
    /// A pattern value with where it starts in the text and its children in document order.
    private struct Located {
        var value: JSONValue
        var offset: Int
        var children: [Located]
    }

    private let bytes: [UInt8]

    static func compile(_ bytes: [UInt8]) throws(EventPatternError) -> PatternObject {
        var offsets: [Int] = []
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes, valueOffsets: &offsets)
        } catch {
            throw EventPatternError(path: "", line: error.line, column: error.column, reason: "not valid JSON: \(error.reason)")
        }
        var cursor = 0
        let located = locate(value, offsets, &cursor)
        let compiler = PatternCompiler(bytes: bytes)
        guard case .object = value else { throw compiler.error(located, "", "a pattern must be a JSON object") }
        return try compiler.object(located, path: "")
    }

    /// Pairs each value with its offset: the parser listed offsets in the order this walk visits.
    private static func locate(_ value: JSONValue, _ offsets: [Int], _ cursor: inout Int) -> Located {
        let offset = offsets[cursor]
        cursor += 1
        switch value {
        case .array(let elements):
            return Located(value: value, offset: offset, children: elements.map { locate($0, offsets, &cursor) })
        case .object(let members):
            return Located(value: value, offset: offset, children: members.map { locate($0.value, offsets, &cursor) })
        default:
            return Located(value: value, offset: offset, children: [])
        }
    }

    private func error(_ at: Located, _ path: String, _ reason: String) -> EventPatternError {
        let (line, column) = JSONValue.lineAndColumn(of: at.offset, in: bytes)
        return EventPatternError(path: path, line: line, column: column, reason: reason)
    }

    private static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    private func object(_ located: Located, path: String) throws(EventPatternError) -> PatternObject {
        guard case .object(let members) = located.value else { throw error(located, path, "expected an object") }
        var compiled = PatternObject()
        // A repeated key keeps its last value, as in the JSON the event is read from.
        var lastIndex: [String: Int] = [:]
        for (index, member) in members.enumerated() { lastIndex[member.key] = index }
        for (index, member) in members.enumerated() where lastIndex[member.key] == index {
            let child = located.children[index]
            let childPath = Self.join(path, member.key)
            if member.key == "$or" {
                compiled.alternatives.append(try alternatives(child, path: childPath))
                continue
            }
            switch member.value {
            case .object:
                compiled.fields.append(PatternField(key: member.key, rule: .nested(try object(child, path: childPath))))
            case .array:
                compiled.fields.append(PatternField(key: member.key, rule: .leaf(LeafRule(try matchers(child, path: childPath)))))
            default:
                throw error(child, childPath, "a field's pattern must be an array of values to match or an object for a nested field")
            }
        }
        return compiled
    }

    private func alternatives(_ located: Located, path: String) throws(EventPatternError) -> [PatternObject] {
        guard case .array = located.value, located.children.count >= 2 else {
            throw error(located, path, "$or must be an array of at least two patterns")
        }
        var compiled: [PatternObject] = []
        for (index, child) in located.children.enumerated() {
            guard case .object = child.value else { throw error(child, "\(path)[\(index)]", "each alternative of $or must be an object") }
            compiled.append(try object(child, path: "\(path)[\(index)]"))
        }
        return compiled
    }

    private func matchers(_ located: Located, path: String) throws(EventPatternError) -> [PatternMatcher] {
        guard !located.children.isEmpty else { throw error(located, path, "the array of values to match must not be empty") }
        var compiled: [PatternMatcher] = []
        for (index, child) in located.children.enumerated() {
            let childPath = "\(path)[\(index)]"
            switch child.value {
            case .string, .number, .null, .bool:
                compiled.append(.exact(child.value))
            case .object(let members):
                guard members.count == 1 else {
                    throw error(child, childPath, "an operator object must have exactly one key, not \(members.count)")
                }
                compiled.append(try `operator`(members[0].key, child.children[0], path: Self.join(childPath, members[0].key)))
            case .array:
                throw error(child, childPath, "values to match must be strings, numbers, booleans, null or operator objects, not arrays")
            }
        }
        return compiled
    }

    static let operators = ["prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists"]

    private func `operator`(_ name: String, _ operand: Located, path: String) throws(EventPatternError) -> PatternMatcher {
        switch name {
        case "prefix", "suffix":
            let (text, ignoreCase) = try affix(operand, path: path)
            return name == "prefix" ? .prefix(text, ignoreCase: ignoreCase) : .suffix(text, ignoreCase: ignoreCase)
        case "equals-ignore-case":
            return .equalsIgnoreCase(try string(operand, path: path, name).lowercased())
        case "wildcard":
            return .wildcard(try wildcard(operand, path: path))
        case "exists":
            guard case .bool(let wanted) = operand.value else { throw error(operand, path, "exists takes true or false") }
            return .exists(wanted)
        case "numeric":
            return .numeric(try numeric(operand, path: path))
        case "anything-but":
            return .anythingBut(try anythingBut(operand, path: path))
        default:
            throw error(operand, path, "unknown operator '\(name)'; expected one of \(Self.operators.joined(separator: ", "))")
        }
    }

    private func string(_ operand: Located, path: String, _ name: String) throws(EventPatternError) -> String {
        guard case .string(let text) = operand.value else { throw error(operand, path, "\(name) takes a string") }
        return text
    }

    /// A prefix or suffix: a string, or `{"equals-ignore-case": string}`.
    private func affix(_ operand: Located, path: String) throws(EventPatternError) -> (String, Bool) {
        switch operand.value {
        case .string(let text):
            return (text, false)
        case .object(let members) where members.count == 1 && members[0].key == "equals-ignore-case":
            return (try string(operand.children[0], path: path + ".equals-ignore-case", "equals-ignore-case").lowercased(), true)
        default:
            throw error(operand, path, "takes a string or {\"equals-ignore-case\": string}")
        }
    }

    private func wildcard(_ operand: Located, path: String) throws(EventPatternError) -> WildcardPattern {
        let text = Array(try string(operand, path: path, "wildcard").utf8)
        var pieces: [[UInt8]] = [[]]
        var index = 0
        while index < text.count {
            let byte = text[index]
            if byte == UInt8(ascii: "\\") {
                guard index + 1 < text.count, text[index + 1] == UInt8(ascii: "*") || text[index + 1] == UInt8(ascii: "\\") else {
                    throw error(operand, path, "a backslash in a wildcard must escape '*' or '\\'")
                }
                pieces[pieces.count - 1].append(text[index + 1])
                index += 2
            } else if byte == UInt8(ascii: "*") {
                if index > 0, text[index - 1] == UInt8(ascii: "*") {
                    throw error(operand, path, "a wildcard must not have two '*' in a row")
                }
                pieces.append([])
                index += 1
            } else {
                pieces[pieces.count - 1].append(byte)
                index += 1
            }
        }
        return WildcardPattern(pieces: pieces)
    }

    /// `[op, number]` or `[lowerOp, number, upperOp, number]`, or `["=", number]`.
    private func numeric(_ operand: Located, path: String) throws(EventPatternError) -> [PatternMatcher.NumericBound] {
        guard case .array = operand.value, operand.children.count == 2 || operand.children.count == 4 else {
            throw error(operand, path, "numeric takes [operator, number] or [operator, number, operator, number]")
        }
        var bounds: [PatternMatcher.NumericBound] = []
        for pair in stride(from: 0, to: operand.children.count, by: 2) {
            let symbol = operand.children[pair], number = operand.children[pair + 1]
            guard case .string(let text) = symbol.value, let comparison = PatternMatcher.NumericBound.Comparison(rawValue: text) else {
                throw error(symbol, "\(path)[\(pair)]", "expected one of \"<\", \"<=\", \"=\", \">\", \">=\"")
            }
            guard let value = number.value.numberValue, value.isFinite else {
                throw error(number, "\(path)[\(pair + 1)]", "expected a number after \"\(text)\"")
            }
            bounds.append(.init(comparison: comparison, value: value))
        }
        if bounds.count == 2 {
            let lower = bounds.first { $0.comparison == .greater || $0.comparison == .greaterOrEqual }
            let upper = bounds.first { $0.comparison == .less || $0.comparison == .lessOrEqual }
            guard let lower, let upper else {
                throw error(operand, path, "a numeric range needs one lower bound (> or >=) and one upper bound (< or <=)")
            }
            guard lower.value < upper.value else {
                throw error(operand, path, "the numeric range is empty: \(lower.value) is not below \(upper.value)")
            }
        }
        return bounds
    }

    private func anythingBut(_ operand: Located, path: String) throws(EventPatternError) -> PatternMatcher.AnythingBut {
        switch operand.value {
        case .string, .number:
            return .values([operand.value])
        case .array(let elements):
            guard !elements.isEmpty else { throw error(operand, path, "anything-but needs at least one value") }
            let strings = elements.allSatisfy { if case .string = $0 { true } else { false } }
            let numbers = elements.allSatisfy { if case .number = $0 { true } else { false } }
            guard strings || numbers else { throw error(operand, path, "anything-but takes a list of strings only or of numbers only") }
            return .values(Set(elements))
        case .object(let members) where members.count == 1:
            let inner = operand.children[0], innerPath = Self.join(path, members[0].key)
            switch members[0].key {
            case "prefix": return .prefix(try string(inner, path: innerPath, "prefix"))
            case "suffix": return .suffix(try string(inner, path: innerPath, "suffix"))
            case "equals-ignore-case": return .equalsIgnoreCase(Set(try strings(inner, path: innerPath, "equals-ignore-case").map { $0.lowercased() }))
            case "wildcard":
                if case .array = inner.value {
                    guard !inner.children.isEmpty else { throw error(inner, innerPath, "wildcard needs at least one pattern") }
                    var wildcards: [WildcardPattern] = []
                    for (index, child) in inner.children.enumerated() { wildcards.append(try wildcard(child, path: "\(innerPath)[\(index)]")) }
                    return .wildcards(wildcards)
                }
                return .wildcards([try wildcard(inner, path: innerPath)])
            default:
                throw error(inner, innerPath, "anything-but takes prefix, suffix, equals-ignore-case or wildcard, not '\(members[0].key)'")
            }
        default:
            throw error(operand, path, "anything-but takes a string, a number, a list of them, or {prefix|suffix|equals-ignore-case|wildcard: ...}")
        }
    }

    /// A string or a non-empty array of strings.
    private func strings(_ operand: Located, path: String, _ name: String) throws(EventPatternError) -> [String] {
        if case .string(let text) = operand.value { return [text] }
        guard case .array = operand.value, !operand.children.isEmpty else { throw error(operand, path, "\(name) takes a string or a list of strings") }
        var texts: [String] = []
        for (index, child) in operand.children.enumerated() { texts.append(try string(child, path: "\(path)[\(index)]", name)) }
        return texts
    }
}
