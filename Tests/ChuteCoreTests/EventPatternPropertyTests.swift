import ChuteCore
import Foundation
import PropertyBased
import Testing

/// Random patterns against random events: the engine must agree with a small reference matcher
/// written here from the documented rules, which reads both documents with Foundation's decoder
/// and matches by plain recursion, so the two share neither parser nor matching code.
@Suite struct EventPatternPropertyTests {
    @Test func theEngineAgreesWithTheReferenceMatcher() async {
        await propertyCheck(count: 3_000, input: Gen.int(in: 0...Int.max)) { seed in
            var random = CaseGenerator(seed: UInt64(seed))
            let pattern = random.pattern(depth: 0)
            let event = random.event(depth: 0)
            let patternText = Reference.text(pattern), eventText = Reference.text(event)
            let compiled = try? EventPattern(patternText)
            #expect(compiled != nil, "generated pattern rejected: \(patternText)")
            let engine = compiled?.matches(json: Array(eventText.utf8))
            let reference = Reference.matches(pattern: pattern, values: [event])
            #expect(engine == reference, "pattern \(patternText) event \(eventText)")
        }
    }

    /// The agreement above means something only if the random cases both match and fail often.
    @Test func randomCasesBothMatchAndFail() {
        var matched = 0
        let cases = 3_000
        for seed in 0..<cases {
            var random = CaseGenerator(seed: UInt64(seed))
            let pattern = random.pattern(depth: 0)
            let event = random.event(depth: 0)
            if (try? EventPattern(Reference.text(pattern)).matches(json: Array(Reference.text(event).utf8))) == true { matched += 1 }
        }
        #expect(matched > cases / 20)
        #expect(matched < cases * 19 / 20)
    }
}

/// JSON as Foundation's decoder reads it, for the reference.
indirect enum RefJSON: Decodable, Equatable {
    case null, bool(Bool), int(Int), string(String), array([RefJSON]), object([String: RefJSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int.self) { self = .int(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([RefJSON].self) { self = .array(value) }
        else { self = .object(try container.decode([String: RefJSON].self)) }
    }
}

/// Generated documents, written out as text and read back by `Reference`.
indirect enum Doc {
    case null, bool(Bool), int(Int), string(String), array([Doc]), object([(String, Doc)])
}

/// A small deterministic generator (SplitMix64) of patterns and events over one small vocabulary,
/// so that patterns often meet the values they test.
struct CaseGenerator {
    var random: SplitMix64
    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    mutating func below(_ bound: Int) -> Int { Int(random.next() % UInt64(bound)) }
    mutating func pick<T>(_ options: [T]) -> T { options[below(options.count)] }

    static let keys = ["a", "b", "c"]
    static let words = ["x", "xy", "yx", "X", "", "x*y", "Xy", "yy"]

    mutating func scalar() -> Doc {
        switch below(6) {
        case 0: .null
        case 1: .bool(below(2) == 0)
        case 2, 3: .int(below(6))
        default: .string(pick(Self.words))
        }
    }

    mutating func event(depth: Int) -> Doc {
        var members: [(String, Doc)] = []
        for key in Self.keys where below(4) != 0 {
            let value: Doc
            switch below(depth < 2 ? 5 : 3) {
            case 0, 1: value = scalar()
            case 2: value = .array((0..<below(3)).map { _ in scalar() })
            case 3: value = event(depth: depth + 1)
            default: value = .array((0..<(1 + below(2))).map { _ in event(depth: depth + 2) })
            }
            members.append((key, value))
        }
        return .object(members)
    }

    mutating func pattern(depth: Int) -> Doc {
        var members: [(String, Doc)] = []
        for key in Self.keys where below(3) == 0 {
            members.append((key, depth < 2 && below(4) == 0 ? pattern(depth: depth + 1) : .array((0..<(1 + below(2))).map { _ in matcher() })))
        }
        if depth == 0 && below(5) == 0 {
            members.append(("$or", .array([pattern(depth: 1), pattern(depth: 1)])))
        }
        return .object(members)
    }

    mutating func matcher() -> Doc {
        let word = pick(Self.words.filter { !$0.contains("*") })
        switch below(12) {
        case 0, 1: return scalar()
        case 2: return .object([("prefix", below(2) == 0 ? .string(word) : .object([("equals-ignore-case", .string(word))]))])
        case 3: return .object([("suffix", below(2) == 0 ? .string(word) : .object([("equals-ignore-case", .string(word))]))])
        case 4: return .object([("equals-ignore-case", .string(word))])
        case 5: return .object([("wildcard", .string(pick(["x*", "*y", "*", "x*y", "*x*", "x\\*y"])))])
        case 6: return .object([("anything-but", below(2) == 0 ? .string(word) : .array([.int(below(6)), .int(below(6))]))])
        case 7: return .object([("anything-but", .object([(pick(["prefix", "suffix"]), .string(word))]))])
        case 8: return .object([("anything-but", .object([(pick(["equals-ignore-case", "wildcard"]), .string(pick(["x", "x*", "*Y"])))]))])
        case 9:
            let low = below(4)
            return .object([("numeric", below(2) == 0
                ? .array([.string(pick([">", ">=", "<", "<=", "="])), .int(low)])
                : .array([.string(pick([">", ">="])), .int(low), .string(pick(["<", "<="])), .int(low + 1 + below(3))]))])
        default: return .object([("exists", .bool(below(2) == 0))])
        }
    }
}

/// The documented rules, matched by plain recursion over Foundation-decoded values.
enum Reference {
    static func text(_ doc: Doc) -> String {
        switch doc {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .int(let value): return String(value)
        case .string(let value):
            let data = try! JSONSerialization.data(withJSONObject: [value], options: [.fragmentsAllowed])
            return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
        case .array(let elements): return "[" + elements.map(text).joined(separator: ",") + "]"
        case .object(let members): return "{" + members.map { text(.string($0.0)) + ":" + text($0.1) }.joined(separator: ",") + "}"
        }
    }

    static func decode(_ doc: Doc) -> RefJSON {
        try! JSONDecoder().decode(RefJSON.self, from: Data(text(doc).utf8))
    }

    static func matches(pattern: Doc, values: [Doc]) -> Bool {
        guard case .object(let pattern) = decode(pattern) else { return false }
        return matches(pattern, values.map(decode))
    }

    static func matches(_ pattern: [String: RefJSON], _ values: [RefJSON]) -> Bool {
        pattern.allSatisfy { key, rule in
            if key == "$or", case .array(let alternatives) = rule {
                return alternatives.contains { if case .object(let alternative) = $0 { matches(alternative, values) } else { false } }
            }
            let children = values.flatMap { Reference.children(of: $0, key) }
            switch rule {
            case .object(let nested): return matches(nested, children)
            case .array(let matchers):
                let leaves = children.flatMap(Reference.leaves(of:))
                return matchers.contains { matcherMatches($0, leaves) }
            default: return false
            }
        }
    }

    static func children(of value: RefJSON, _ key: String) -> [RefJSON] {
        switch value {
        case .object(let members): members[key].map { [$0] } ?? []
        case .array(let elements): elements.flatMap { children(of: $0, key) }
        default: []
        }
    }

    static func leaves(of value: RefJSON) -> [RefJSON] {
        switch value {
        case .array(let elements): elements.flatMap(leaves(of:))
        case .object: []
        default: [value]
        }
    }

    static func matcherMatches(_ matcher: RefJSON, _ leaves: [RefJSON]) -> Bool {
        guard case .object(let operation) = matcher, let (name, operand) = operation.first else {
            return leaves.contains(matcher)
        }
        if name == "exists", case .bool(let wanted) = operand { return wanted == !leaves.isEmpty }
        return leaves.contains { leaf in
            switch (name, operand) {
            case ("prefix", .string(let prefix)): if case .string(let s) = leaf { s.hasPrefix(prefix) } else { false }
            case ("prefix", .object(let inner)): if case .string(let s) = leaf, case .string(let p)? = inner["equals-ignore-case"] { s.lowercased().hasPrefix(p.lowercased()) } else { false }
            case ("suffix", .string(let suffix)): if case .string(let s) = leaf { s.hasSuffix(suffix) } else { false }
            case ("suffix", .object(let inner)): if case .string(let s) = leaf, case .string(let p)? = inner["equals-ignore-case"] { s.lowercased().hasSuffix(p.lowercased()) } else { false }
            case ("equals-ignore-case", .string(let text)): if case .string(let s) = leaf { s.lowercased() == text.lowercased() } else { false }
            case ("wildcard", .string(let glob)): if case .string(let s) = leaf { wildcard(glob, s) } else { false }
            case ("numeric", .array(let terms)): if case .int(let n) = leaf { numeric(terms, Double(n)) } else { false }
            case ("anything-but", .array(let excluded)): if case .string = leaf { true } else if case .int = leaf { !excluded.contains(leaf) } else { true }
            case ("anything-but", .string(let excluded)): leaf != .string(excluded)
            case ("anything-but", .object(let inner)): anythingBut(inner, leaf)
            default: false
            }
        }
    }

    static func anythingBut(_ inner: [String: RefJSON], _ leaf: RefJSON) -> Bool {
        guard case .string(let s) = leaf, let (name, operand) = inner.first, case .string(let text) = operand else { return false }
        switch name {
        case "prefix": return !s.hasPrefix(text)
        case "suffix": return !s.hasSuffix(text)
        case "equals-ignore-case": return s.lowercased() != text.lowercased()
        default: return !wildcard(text, s)
        }
    }

    static func numeric(_ terms: [RefJSON], _ n: Double) -> Bool {
        stride(from: 0, to: terms.count, by: 2).allSatisfy { index in
            guard case .string(let op) = terms[index], case .int(let bound) = terms[index + 1] else { return false }
            let b = Double(bound)
            switch op {
            case "<": return n < b
            case "<=": return n <= b
            case ">": return n > b
            case ">=": return n >= b
            default: return n == b
            }
        }
    }

    /// Glob matching by regular expression: `*` any run, `\*` a star.
    static func wildcard(_ glob: String, _ text: String) -> Bool {
        var regex = "^"
        var escaped = false
        for character in glob {
            if escaped { regex += NSRegularExpression.escapedPattern(for: String(character)); escaped = false }
            else if character == "\\" { escaped = true }
            else if character == "*" { regex += ".*" }
            else { regex += NSRegularExpression.escapedPattern(for: String(character)) }
        }
        regex += "$"
        return text.range(of: regex, options: .regularExpression) != nil
    }
}
