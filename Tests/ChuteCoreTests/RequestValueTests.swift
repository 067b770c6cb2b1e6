import ChuteCore
import Testing

/// Values requests carry that once reached code in shapes it trapped on: URLs with ports past
/// 65535, times no calendar holds, sequence numbers past 2⁶³, shard ids like `shardId--1`,
/// iterator tokens made by hand, numbers that are not numbers.
@Suite struct RequestValueTests {
    @Test func httpEndpointsAreReadStrictly() throws {
        let endpoint = try #require(HTTPEndpoint("https://hooks.example.com:8443/a/b?c=d"))
        #expect(endpoint.secure && endpoint.host == "hooks.example.com" && endpoint.port == 8443 && endpoint.path == "/a/b?c=d")
        #expect(HTTPEndpoint("http://127.0.0.1")?.port == 80)
        #expect(HTTPEndpoint("http://[::1]:9000/x")?.host == "::1")
        for bad in ["http://127.0.0.1:99999/x", "http://127.0.0.1:0/", "http://h:-1/", "http://h:+80/", "http://h:/", "http://",
                    "http:///path", "http://a b/", "http://h/é", "http://user:pw@h/", "http://[::1", "ftp://h/", "http://h:８０/",
                    "http://" + String(repeating: "a", count: 2100)] {
            #expect(HTTPEndpoint(bad) == nil, "\(bad)")
            if case .success = Destination.parse(bad) { Issue.record("accepted \(bad)") }
        }
    }

    @Test func timesOutsideTheCalendarAreRefusedBeforeTheyAreMultiplied() {
        #expect(Timestamps.milliseconds(fromSeconds: 1_700_000_000.5) == 1_700_000_000_500)
        #expect(Timestamps.milliseconds(fromSeconds: -1.5) == -1_500)
        for bad in [1e300, -1e300, 1e16, .infinity, .nan, 9.3e18] { #expect(Timestamps.milliseconds(fromSeconds: bad) == nil) }
    }

    @Test func sequenceNumbersAreDecimalTextOfUpTo129Digits() {
        #expect(StreamRecord.sequence("000000000000000000042") == 42)
        #expect(StreamRecord.sequence("9223372036854775807") == 9_223_372_036_854_775_807)
        #expect(StreamRecord.isWellFormedSequenceNumber("18446744073709551615"))
        #expect(StreamRecord.sequence("18446744073709551615") == nil)  // well formed, from no stream here
        #expect(StreamRecord.sequence(String(repeating: "9", count: 129)) == nil)
        for bad in ["", "-1", "+1", "1e3", " 1", "١٢", String(repeating: "1", count: 130)] {
            #expect(!StreamRecord.isWellFormedSequenceNumber(bad) && StreamRecord.sequence(bad) == nil, "\(bad)")
        }
    }

    @Test func shardIDsAndIteratorTokensTrustNothing() throws {
        #expect(ShardMap.shardIndex("shardId-000000000003") == 3)
        for bad in ["shardId--1", "shardId-+1", "shardId-", "shardId-0000000000001", "shardId-٣", "shard-1"] {
            #expect(ShardMap.shardIndex(bad) == nil, "\(bad)")
        }
        let iterator = ShardIterator(stream: "clicks", shard: 2, position: .afterSequence(41))
        #expect(ShardIterator(token: iterator.token) == iterator)
        for made in ["v1/0/at/18446744073709551615/clicks", "v1/-1/trim/clicks", "v1/99999999999999999999/trim/clicks",
                     "v1/0/time/99999999999999999999/clicks", "v1/0/trim/", "v1/0/trim/a/b", "v2/0/trim/clicks", "v1/0/trim/\u{FFFD}"] {
            #expect(ShardIterator(token: Base64.encode(Array(made.utf8))) == nil, "\(made)")
        }
        #expect(ShardIterator(token: "not base64!") == nil)
    }

    @Test func numberAttributesAreFiniteDecimalNumbers() {
        for good in ["0", "-1.5e3", "+2", ".5", "5.", "1E+10"] { #expect(MessageAttribute.isValidNumber(good), "\(good)") }
        for bad in ["nan", "inf", "-Infinity", "0x10", "1e", "", "1e400", "1 ", "--1", "."] { #expect(!MessageAttribute.isValidNumber(bad), "\(bad)") }
    }

    @Test func base64IsDecodedStrictly() {
        #expect(Base64.decode("QUJD") == Array("ABC".utf8))
        #expect(Base64.decode("QQ==") == Array("A".utf8))
        #expect(Base64.decode("") == [])
        for bad in ["QQ=", "Q===", "QQ==QQ==", "QU JD", "QUJ*"] { #expect(Base64.decode(bad) == nil, "\(bad)") }
    }
}
