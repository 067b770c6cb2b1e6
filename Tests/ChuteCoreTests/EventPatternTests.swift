import ChuteCore
import Testing

/// Each operator of the event-pattern syntax on the examples of AWS's documentation, and the
/// errors invalid patterns get.
@Suite struct EventPatternTests {
    func matches(_ pattern: String, _ event: String) throws -> Bool {
        try EventPattern(pattern).matches(json: Array(event.utf8))
    }

    @Test func exactValuesAreOredWithinAFieldAndFieldsAreAnded() throws {
        let pattern = #"{"source": ["lambda"], "detail-type": ["Success", "Failure"]}"#
        #expect(try matches(pattern, #"{"source": "lambda", "detail-type": "Failure"}"#))
        #expect(try !matches(pattern, #"{"source": "lambda", "detail-type": "Other"}"#))
        #expect(try !matches(pattern, #"{"source": "s3", "detail-type": "Success"}"#))
        #expect(try !matches(pattern, #"{"detail-type": "Success"}"#))
    }

    @Test func nestedFieldsAndArraysMatchAnyElement() throws {
        let pattern = #"{"detail": {"state": ["running"], "tags": {"env": ["prod"]}}}"#
        #expect(try matches(pattern, #"{"detail": {"state": ["stopped", "running"], "tags": [{"env": "dev"}, {"env": "prod"}]}}"#))
        #expect(try !matches(pattern, #"{"detail": {"state": "running", "tags": {"env": "dev"}}}"#))
        #expect(try !matches(pattern, #"{"detail": "running"}"#))
    }

    @Test func numbersMatchAsWrittenAndNumericComparesValues() throws {
        #expect(try matches(#"{"n": [300]}"#, #"{"n": 300}"#))
        #expect(try !matches(#"{"n": [300]}"#, #"{"n": 300.0}"#))
        #expect(try !matches(#"{"n": [300]}"#, #"{"n": "300"}"#))
        let range = #"{"n": [{"numeric": [">", 0, "<=", 5]}]}"#
        #expect(try matches(range, #"{"n": 5}"#))
        #expect(try matches(range, #"{"n": 0.5e1}"#))
        #expect(try !matches(range, #"{"n": 0}"#))
        #expect(try !matches(range, #"{"n": "3"}"#))
        #expect(try matches(#"{"n": [{"numeric": ["=", 3e2]}]}"#, #"{"n": 300.0}"#))
    }

    @Test func nullEmptyStringAndBooleansAreExactValues() throws {
        #expect(try matches(#"{"a": [null]}"#, #"{"a": null}"#))
        #expect(try !matches(#"{"a": [null]}"#, #"{}"#))
        #expect(try matches(#"{"a": [""]}"#, #"{"a": ""}"#))
        #expect(try !matches(#"{"a": [""]}"#, #"{"a": null}"#))
        #expect(try matches(#"{"a": [true]}"#, #"{"a": true}"#))
        #expect(try !matches(#"{"a": [true]}"#, #"{"a": "true"}"#))
    }

    @Test func existsLooksForAScalarValue() throws {
        #expect(try matches(#"{"a": [{"exists": true}]}"#, #"{"a": 0}"#))
        #expect(try !matches(#"{"a": [{"exists": true}]}"#, #"{"b": 0}"#))
        #expect(try matches(#"{"a": [{"exists": false}]}"#, #"{"b": 0}"#))
        #expect(try !matches(#"{"a": [{"exists": false}]}"#, #"{"a": null}"#))
        #expect(try matches(#"{"a": {"b": [{"exists": false}]}}"#, #"{"c": 1}"#))
    }

    @Test func prefixSuffixAndIgnoringCase() throws {
        #expect(try matches(#"{"r": [{"prefix": "us-"}]}"#, #"{"r": "us-east-1"}"#))
        #expect(try !matches(#"{"r": [{"prefix": "us-"}]}"#, #"{"r": "eu-west-1"}"#))
        #expect(try matches(#"{"f": [{"suffix": ".png"}]}"#, #"{"f": "a.png"}"#))
        #expect(try !matches(#"{"f": [{"suffix": ".png"}]}"#, #"{"f": "a.PNG"}"#))
        #expect(try matches(#"{"f": [{"suffix": {"equals-ignore-case": ".png"}}]}"#, #"{"f": "a.PNG"}"#))
        #expect(try matches(#"{"s": [{"prefix": {"equals-ignore-case": "EventB"}}]}"#, #"{"s": "eventbridge"}"#))
        #expect(try matches(#"{"s": [{"equals-ignore-case": "ALICE"}]}"#, #"{"s": "alice"}"#))
        #expect(try !matches(#"{"s": [{"equals-ignore-case": "ALICE"}]}"#, #"{"s": "alicia"}"#))
    }

    @Test func wildcardsMatchRunsOfCharacters() throws {
        let pattern = #"{"k": [{"wildcard": "dir/*/file*.png"}]}"#
        #expect(try matches(pattern, #"{"k": "dir/a/b/file1.png"}"#))
        #expect(try matches(pattern, #"{"k": "dir//file.png"}"#))
        #expect(try !matches(pattern, #"{"k": "dir/a/file1.jpg"}"#))
        #expect(try matches(#"{"k": [{"wildcard": "a\\*b"}]}"#, #"{"k": "a*b"}"#))
        #expect(try !matches(#"{"k": [{"wildcard": "a\\*b"}]}"#, #"{"k": "axb"}"#))
        #expect(try matches(#"{"k": [{"wildcard": "*"}]}"#, #"{"k": ""}"#))
        // Pieces that overlap themselves, found by their leftmost place.
        #expect(try matches(#"{"k": [{"wildcard": "*aab*"}]}"#, #"{"k": "aaab"}"#))
        #expect(try matches(#"{"k": [{"wildcard": "x*abab*abac*y"}]}"#, #"{"k": "xabababacy"}"#))
        #expect(try !matches(#"{"k": [{"wildcard": "x*abab*abac*y"}]}"#, #"{"k": "xabacababy"}"#))
    }

    /// A 900 KB value of near-misses against a long middle piece: quadratic search took seconds
    /// (1.9 s of CPU once); the linear one is one pass. No time is asserted: a regression shows
    /// as this test taking minutes.
    @Test func wildcardMatchingIsLinearInTheValue() throws {
        let value = String(repeating: "a", count: 900_000)
        let piece = String(repeating: "a", count: 2_000) + "b"
        let pattern = try EventPattern(#"{"k": [{"wildcard": "*"# + piece + #"*"}]}"#)
        #expect(!pattern.matches(try JSONValue.parse(#"{"k": ""# + value + #""}"#)))
        #expect(pattern.matches(try JSONValue.parse(#"{"k": ""# + value + piece + #""}"#)))
    }

    @Test func anythingButExcludesValuesPrefixesSuffixesAndWildcards() throws {
        #expect(try matches(#"{"s": [{"anything-but": "initializing"}]}"#, #"{"s": "running"}"#))
        #expect(try !matches(#"{"s": [{"anything-but": "initializing"}]}"#, #"{"s": "initializing"}"#))
        #expect(try !matches(#"{"s": [{"anything-but": "initializing"}]}"#, #"{}"#))
        #expect(try !matches(#"{"n": [{"anything-but": [1, 2]}]}"#, #"{"n": 2}"#))
        #expect(try matches(#"{"n": [{"anything-but": [1, 2]}]}"#, #"{"n": 3}"#))
        #expect(try !matches(#"{"r": [{"anything-but": {"prefix": "us-"}}]}"#, #"{"r": "us-west-2"}"#))
        #expect(try matches(#"{"r": [{"anything-but": {"prefix": "us-"}}]}"#, #"{"r": "eu-west-2"}"#))
        #expect(try !matches(#"{"f": [{"anything-but": {"suffix": ".png"}}]}"#, #"{"f": "x.png"}"#))
        #expect(try !matches(#"{"s": [{"anything-but": {"equals-ignore-case": ["A", "b"]}}]}"#, #"{"s": "B"}"#))
        #expect(try !matches(#"{"p": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#, #"{"p": "/usr/lib/x"}"#))
        #expect(try matches(#"{"p": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#, #"{"p": "/usr/bin/x"}"#))
    }

    @Test func orCombinesWholePatterns() throws {
        let pattern = #"{"source": ["app"], "$or": [{"c": [{"numeric": [">", 10]}]}, {"d": {"e": ["x"]}}]}"#
        #expect(try matches(pattern, #"{"source": "app", "c": 11}"#))
        #expect(try matches(pattern, #"{"source": "app", "c": 1, "d": {"e": "x"}}"#))
        #expect(try !matches(pattern, #"{"source": "app", "c": 1}"#))
        #expect(try !matches(pattern, #"{"source": "web", "c": 11}"#))
    }

    @Test func anEmptyPatternMatchesEveryEventAndTextThatIsNotJSONMatchesNothing() throws {
        #expect(try matches("{}", #"{"a": 1}"#))
        #expect(try !matches(#"{"a": [1]}"#, "not json"))
        #expect(try !matches(#"{"a": [1]}"#, "[1]"))
    }

    @Test func aRepeatedKeyKeepsItsLastValue() throws {
        #expect(try matches(#"{"a": ["x"], "a": ["y"]}"#, #"{"a": "y"}"#))
        #expect(try !matches(#"{"a": ["y"]}"#, #"{"a": "y", "a": "x"}"#))
    }

    @Test(arguments: [
        (#"["a"]"#, "", 1, 1, "a pattern must be a JSON object"),
        (#"{"a": "x"}"#, "a", 1, 7, "must be an array"),
        (#"{"a": []}"#, "a", 1, 7, "must not be empty"),
        ("{\n  \"a\": [{\"prefx\": \"x\"}]\n}", "a[0].prefx", 2, 19, "unknown operator 'prefx'"),
        (#"{"a": [{"prefix": "x", "suffix": "y"}]}"#, "a[0]", 1, 8, "exactly one key"),
        (#"{"a": [{"numeric": [">", "ten"]}]}"#, "a[0].numeric[1]", 1, 26, "expected a number"),
        (#"{"a": [{"numeric": [">", 5, "<", 1]}]}"#, "a[0].numeric", 1, 20, "range is empty"),
        (#"{"a": [{"numeric": ["<", 5, "<", 9]}]}"#, "a[0].numeric", 1, 20, "one lower bound"),
        (#"{"a": [{"exists": "yes"}]}"#, "a[0].exists", 1, 19, "true or false"),
        (#"{"a": [{"wildcard": "a**b"}]}"#, "a[0].wildcard", 1, 21, "two '*' in a row"),
        (#"{"a": [{"anything-but": ["x", 1]}]}"#, "a[0].anything-but", 1, 25, "strings only or of numbers only"),
        (#"{"$or": [{"a": ["x"]}]}"#, "$or", 1, 9, "at least two patterns"),
        (#"{"a": [["x"]]}"#, "a[0]", 1, 8, "not arrays"),
        (#"{"a": ["x"]"#, "", 1, 12, "not valid JSON"),
    ])
    func invalidPatternsNameThePlaceAndTheReason(_ pattern: String, _ path: String, _ line: Int, _ column: Int, _ reason: String) {
        #expect {
            _ = try EventPattern(pattern)
        } throws: { error in
            guard let error = error as? EventPatternError else { return false }
            return error.path == path && error.line == line && error.column == column && error.reason.contains(reason)
                && error.description.contains(reason)
        }
    }
}
