import ChuteCore
import Foundation
import Testing

/// The fast JSON check that decides whether payloads are embedded verbatim in invocation records
/// agrees with Foundation's parser: on hand-picked edge cases, and on thousands of random strings
/// over JSON's alphabet (a fixed seed, so a failure reproduces).
@Suite struct JSONSyntaxTests {
    /// Foundation's parser, minus its one leniency: it takes trailing commas (`[1,]`), which
    /// RFC 8259 forbids and strict consumers of a record would reject.
    static func foundationAccepts(_ text: String) -> Bool {
        guard (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil else { return false }
        let outsideStrings = text.replacing(#/"(?:[^"\\]|\\.)*"/#, with: "\"\"")
        return outsideStrings.firstMatch(of: #/,\s*[\]}]/#) == nil
    }

    @Test(arguments: [
        "{}", "[]", "0", "-0", "1.5e-3", "\"\"", "true", "null", " {\"a\" : [1, 2, {\"b\": null}] } ",
        "\"\\u00e9\\n\\\"\"", "[1,]", "{,}", "01", "1.", ".5", "-", "+1", "1e", "[", "{\"a\"}", "{\"a\":1,}", "tru", "nulls",
        "\"unterminated", "\"tab\there\"", "[1 2]", "{\"a\":1 \"b\":2}", "\"\\x\"", "1 2", "",
    ])
    func agreesWithFoundation(_ text: String) {
        #expect(JSONText.isValid(Array(text.utf8)) == Self.foundationAccepts(text), "\(text)")
    }

    @Test func agreesWithFoundationOnRandomText() {
        var random = SplitMix64(seed: 0xC0FFEE)
        let pieces = ["{", "}", "[", "]", ",", ":", "\"", "\"a\"", "1", "-", "0", ".", "e", "2", " ", "true", "null", "\\n", "x"]
        var disagreements: [String] = []
        for _ in 0..<20_000 {
            let text = (0..<Int(random.next() % 9)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
            if JSONText.isValid(Array(text.utf8)) != Self.foundationAccepts(text) { disagreements.append(text) }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
    }

    @Test func deepNestingIsRefusedWithoutExhaustingTheStack() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(!JSONText.isValid(Array(deep.utf8)))
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(JSONText.isValid(Array(fine.utf8)))
    }
}

/// A tiny deterministic generator for reproducible random tests.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
