/// An EventBridge event pattern, also Lambda's event-filter syntax: which events a rule, a
/// subscription filter policy or an event source mapping filter lets through.
///
/// Syntax (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html):
/// a JSON object whose keys name fields of the event. A key maps to an object (a pattern for the
/// nested object) or to an array of matchers, any of which may match: exact strings, numbers,
/// `null`, `true`/`false`, or one-key operator objects `prefix`, `suffix`, `equals-ignore-case`,
/// `wildcard`, `anything-but`, `numeric`, `exists`. Fields are ANDed; `"$or": [p1, p2, ...]`
/// at any level matches if any of its patterns does.
///
/// Matching rules Chute follows (`SEMANTICS.md` §1.5):
/// - Numbers match exactly as written: `300`, `300.0` and `3e2` are different (`numeric` compares
///   values).
/// - Arrays in the event match if any element does, at any depth; fields of an array's objects are
///   matched independently of each other.
/// - A field that is missing matches nothing but `{"exists": false}`; `[null]` matches an explicit
///   null only.
/// - An empty pattern `{}` matches every event.
public struct EventPattern: Sendable, Hashable {
    let root: PatternObject
    /// The pattern as given.
    public let source: String

    /// Compiles a pattern, or throws an error naming where and why it is invalid.
    public init(_ source: String) throws(EventPatternError) {
        self.source = source
        root = try PatternCompiler.compile(Array(source.utf8))
    }

    /// Whether an event (a JSON document) matches. Text that is not JSON matches nothing (Lambda
    /// drops such a record when its filter expects JSON).
    public func matches(json: [UInt8]) -> Bool {
        guard let event = try? JSONValue.parse(json) else { return false }
        return matches(event)
    }

    public func matches(_ event: JSONValue) -> Bool {
        root.matches([event])
    }

    /// AWS's count of the pattern's combinations of values (SNS allows 150 in a filter policy).
    public var combinations: Int { root.combinations }

    /// EventBridge's (and Lambda's filters') limit on a pattern's text: 4096 characters.
    public static let maximumLength = 4096
    /// SNS's limits on a filter policy: 256 KB of text, 150 combinations of values.
    public static let maximumFilterPolicyBytes = 262_144
    public static let maximumFilterPolicyCombinations = 150

    public enum Use: Sendable {
        /// An EventBridge rule's pattern or a Lambda event source mapping's filter.
        case rule
        /// An SNS subscription's filter policy.
        case filterPolicy
    }

    /// Compiles a pattern within the limits AWS sets for its use: besides being valid, a
    /// pattern's size bounds what matching an event against it can cost.
    public init(_ source: String, for use: Use) throws(EventPatternError) {
        func tooLarge(_ reason: String) -> EventPatternError { EventPatternError(path: "", line: 1, column: 1, reason: reason) }
        switch use {
        case .rule:
            guard source.count <= Self.maximumLength else {
                throw tooLarge("the pattern is \(source.count) characters; at most \(Self.maximumLength) are allowed")
            }
            try self.init(source)
        case .filterPolicy:
            guard source.utf8.count <= Self.maximumFilterPolicyBytes else {
                throw tooLarge("the filter policy is \(source.utf8.count) bytes; at most \(Self.maximumFilterPolicyBytes) are allowed")
            }
            try self.init(source)
            guard combinations <= Self.maximumFilterPolicyCombinations else {
                throw tooLarge("the filter policy has \(combinations == .max ? "too many" : String(combinations)) combinations of values; "
                               + "at most \(Self.maximumFilterPolicyCombinations) are allowed")
            }
        }
    }
}

/// Why a pattern is invalid: where (the path inside the pattern, and line and column in its text)
/// and why.
public struct EventPatternError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The path of the offending value, e.g. `detail.state[1].numeric`; empty for the whole pattern.
    public var path: String
    public var line: Int
    public var column: Int
    public var reason: String

    public var description: String {
        let at = path.isEmpty ? "" : " at \(path)"
        return "invalid event pattern\(at) (line \(line), column \(column)): \(reason)"
    }
}

// MARK: Compiled form

/// The pattern of one object level: its fields, all of which must match, and its `$or` groups,
/// each of which needs one matching alternative.
struct PatternObject: Sendable, Hashable {
    var fields: [PatternField] = []
    var alternatives: [[PatternObject]] = []

    /// Whether the values reachable at this level (several when the event holds arrays) match.
    func matches(_ values: [JSONValue]) -> Bool {
        for field in fields {
            let children = PatternObject.children(of: values, named: field.key)
            switch field.rule {
            case .nested(let object):
                if !object.matches(children) { return false }
            case .leaf(let rule):
                if !rule.matches(PatternObject.leaves(children)) { return false }
            }
        }
        for group in alternatives where !group.contains(where: { $0.matches(values) }) {
            return false
        }
        return true
    }

    /// The values of `key` in every object among `values`, looking through arrays.
    static func children(of values: [JSONValue], named key: String) -> [JSONValue] {
        var found: [JSONValue] = []
        func visit(_ value: JSONValue) {
            switch value {
            case .object: if let child = value[key] { found.append(child) }
            case .array(let elements): elements.forEach(visit)
            default: break
            }
        }
        values.forEach(visit)
        return found
    }

    /// Scalar values among `values`, looking through arrays (objects are not leaves).
    static func leaves(_ values: [JSONValue]) -> [JSONValue] {
        var found: [JSONValue] = []
        func visit(_ value: JSONValue) {
            switch value {
            case .array(let elements): elements.forEach(visit)
            case .object: break
            default: found.append(value)
            }
        }
        values.forEach(visit)
        return found
    }
}

struct PatternField: Sendable, Hashable {
    var key: String
    var rule: Rule

    enum Rule: Sendable, Hashable {
        case nested(PatternObject)
        case leaf(LeafRule)
    }
}

/// A field's array of matchers, any of which may match. Exact values are looked up in a set, so a
/// field with thousands of values against an event with thousands of leaves costs one lookup per
/// leaf, not one comparison per pair.
struct LeafRule: Sendable, Hashable {
    var exact: Set<JSONValue> = []
    var others: [PatternMatcher] = []

    init(_ matchers: [PatternMatcher]) {
        for matcher in matchers {
            if case .exact(let value) = matcher { exact.insert(value) } else { others.append(matcher) }
        }
    }

    /// How many values the field lists (AWS counts them into a pattern's combinations).
    var count: Int { exact.count + others.count }

    func matches(_ leaves: [JSONValue]) -> Bool {
        if !exact.isEmpty, leaves.contains(where: exact.contains) { return true }
        return others.contains { $0.matches(leaves) }
    }
}

extension PatternObject {
    /// AWS's measure of a filter policy's size: the product of the number of values over its
    /// fields (a nested object counts its own combinations), summed over `$or` alternatives.
    var combinations: Int {
        var total = 1
        func times(_ count: Int) {
            let (product, overflow) = total.multipliedReportingOverflow(by: max(1, count))
            total = overflow ? .max : product
        }
        for field in fields {
            switch field.rule {
            case .nested(let object): times(object.combinations)
            case .leaf(let rule): times(rule.count)
            }
        }
        for group in alternatives {
            times(group.reduce(0) { sum, alternative in
                let (added, overflow) = sum.addingReportingOverflow(alternative.combinations)
                return overflow ? .max : added
            })
        }
        return total
    }
}

/// One element of a field's matcher array.
enum PatternMatcher: Sendable, Hashable {
    case exact(JSONValue)
    case prefix(String, ignoreCase: Bool)
    case suffix(String, ignoreCase: Bool)
    case equalsIgnoreCase(String)
    case wildcard(WildcardPattern)
    case anythingBut(AnythingBut)
    case numeric([NumericBound])
    case exists(Bool)

    enum AnythingBut: Sendable, Hashable {
        case values(Set<JSONValue>)
        case prefix(String)
        case suffix(String)
        case equalsIgnoreCase(Set<String>)
        case wildcards([WildcardPattern])
    }

    struct NumericBound: Sendable, Hashable {
        enum Comparison: String, Sendable, Hashable { case less = "<", lessOrEqual = "<=", equal = "=", greater = ">", greaterOrEqual = ">=" }
        var comparison: Comparison
        var value: Double

        func admits(_ number: Double) -> Bool {
            switch comparison {
            case .less: number < value
            case .lessOrEqual: number <= value
            case .equal: number == value
            case .greater: number > value
            case .greaterOrEqual: number >= value
            }
        }
    }

    /// Whether the field's scalar values (none when the field is missing) satisfy this matcher.
    func matches(_ leaves: [JSONValue]) -> Bool {
        if case .exists(let wanted) = self { return leaves.isEmpty != wanted }
        return leaves.contains(where: matches(leaf:))
    }

    private func matches(leaf: JSONValue) -> Bool {
        switch self {
        case .exact(let value):
            return leaf == value
        case .prefix(let prefix, let ignoreCase):
            guard let text = leaf.stringValue else { return false }
            return ignoreCase ? text.lowercased().hasPrefix(prefix) : text.utf8.starts(with: prefix.utf8)
        case .suffix(let suffix, let ignoreCase):
            guard let text = leaf.stringValue else { return false }
            return ignoreCase ? text.lowercased().hasSuffix(suffix) : text.utf8.reversed().starts(with: suffix.utf8.reversed())
        case .equalsIgnoreCase(let lowered):
            return leaf.stringValue?.lowercased() == lowered
        case .wildcard(let wildcard):
            return leaf.stringValue.map(wildcard.matches) ?? false
        case .anythingBut(let excluded):
            switch excluded {
            case .values(let values): return !values.contains(leaf)
            case .prefix(let prefix): return leaf.stringValue.map { !$0.utf8.starts(with: prefix.utf8) } ?? false
            case .suffix(let suffix): return leaf.stringValue.map { !$0.utf8.reversed().starts(with: suffix.utf8.reversed()) } ?? false
            case .equalsIgnoreCase(let lowered): return leaf.stringValue.map { !lowered.contains($0.lowercased()) } ?? false
            case .wildcards(let wildcards): return leaf.stringValue.map { text in !wildcards.contains { $0.matches(text) } } ?? false
            }
        case .numeric(let bounds):
            guard let number = leaf.numberValue else { return false }
            return bounds.allSatisfy { $0.admits(number) }
        case .exists:
            return true
        }
    }
}

/// A `wildcard` operand: `*` stands for any run of characters, `\*` for a star and `\\` for a
/// backslash.
///
/// Matching is linear in the value: the first and last pieces anchor the ends, and each middle
/// piece is found at its leftmost place after the previous one (leftmost is always right for
/// stars, which match anything) with Knuth-Morris-Pratt, so a long value with near-misses costs
/// no more than a scan. A naive search once took 1.9 s of CPU for one 900 KB value.
struct WildcardPattern: Sendable, Hashable {
    /// The literal pieces between stars.
    let pieces: [[UInt8]]
    /// For each piece, its KMP failure table.
    private let failures: [[Int]]

    init(pieces: [[UInt8]]) {
        self.pieces = pieces
        failures = pieces.map(Self.failureTable)
    }

    static func == (lhs: Self, rhs: Self) -> Bool { lhs.pieces == rhs.pieces }
    func hash(into hasher: inout Hasher) { hasher.combine(pieces) }

    func matches(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in matches(bytes) }
    }

    func matches(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard pieces.count > 1 else { return bytes.elementsEqual(pieces[0]) }
        let first = pieces[0], last = pieces[pieces.count - 1]
        guard bytes.count >= first.count + last.count, bytes.starts(with: first),
              bytes[(bytes.count - last.count)...].elementsEqual(last) else {
            return false
        }
        // Middle pieces, leftmost first, between the prefix and the suffix.
        var position = first.count
        let end = bytes.count - last.count
        for index in 1..<(pieces.count - 1) where !pieces[index].isEmpty {
            guard let found = find(index, in: bytes, from: position, before: end) else { return false }
            position = found + pieces[index].count
        }
        return true
    }

    /// Where piece `index` first occurs in `bytes[start..<end]`, by Knuth-Morris-Pratt.
    private func find(_ index: Int, in bytes: UnsafeBufferPointer<UInt8>, from start: Int, before end: Int) -> Int? {
        let piece = pieces[index], failure = failures[index]
        guard end - start >= piece.count else { return nil }
        var matched = 0
        var position = start
        while position < end {
            while matched > 0, bytes[position] != piece[matched] { matched = failure[matched - 1] }
            if bytes[position] == piece[matched] { matched += 1 }
            if matched == piece.count { return position - piece.count + 1 }
            position += 1
        }
        return nil
    }

    /// `table[i]`: the length of the longest proper prefix of `piece[0...i]` that is also its suffix.
    private static func failureTable(_ piece: [UInt8]) -> [Int] {
        var table = [Int](repeating: 0, count: piece.count)
        var length = 0
        var index = 1
        while index < piece.count {
            if piece[index] == piece[length] {
                length += 1
                table[index] = length
                index += 1
            } else if length > 0 {
                length = table[length - 1]
            } else {
                index += 1
            }
        }
        return table
    }
}
