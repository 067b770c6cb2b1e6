/// Lambda's tumbling windows over a stream shard: windows of `seconds`, aligned to the epoch and
/// assigned by each record's arrival time. A batch never spans two windows; each invocation
/// carries the window, the state the previous one returned (`{}` at first), and the flags; the
/// response must hold `state` (without it the invocation failed). When the window's time has
/// passed, or the next records belong to a later window, a final invocation with no records and
/// `isFinalInvokeForWindow` hands over the aggregate; until it succeeds the shard waits. A state
/// over 1 MB ends the window early (`isWindowTerminatedEarly`); the window then goes on with a
/// fresh state.
public struct TumblingWindow: Sendable, Hashable {
    public var startMilliseconds: Int64
    public var lengthMilliseconds: Int64
    /// The state the last invocation returned, as JSON text.
    public var state: String = "{}"
    /// The state outgrew 1 MB: the next invocation is the final one, marked terminated early.
    public var terminatedEarly = false

    public static let maximumStateBytes = 1_048_576

    public init(containing arrivalMilliseconds: Int64, seconds: Int) {
        lengthMilliseconds = Int64(seconds) * 1000
        startMilliseconds = Self.start(of: arrivalMilliseconds, lengthMilliseconds: lengthMilliseconds)
    }

    public static func start(of arrivalMilliseconds: Int64, lengthMilliseconds: Int64) -> Int64 {
        arrivalMilliseconds - ((arrivalMilliseconds % lengthMilliseconds) + lengthMilliseconds) % lengthMilliseconds
    }

    public var endMilliseconds: Int64 { startMilliseconds + lengthMilliseconds }

    public func contains(_ arrivalMilliseconds: Int64) -> Bool {
        (startMilliseconds..<endMilliseconds).contains(arrivalMilliseconds)
    }

    /// Whether the final invocation is due: the next record waiting belongs to a later window, or
    /// none waits and the window's time is over, or the state outgrew its limit.
    public func isClosing(now: Int64, nextArrival: Int64?) -> Bool {
        if terminatedEarly { return true }
        if let nextArrival { return !contains(nextArrival) }  // its records still waiting keep it open
        return now >= endMilliseconds
    }

    /// Takes the state from an invocation's response; false when it has none (the invocation
    /// failed, as Lambda counts it).
    public mutating func take(_ response: [UInt8]) -> Bool {
        guard let value = try? JSONValue.parse(response), let state = value["state"], state != .null else { return false }
        self.state = state.text
        if self.state.utf8.count > Self.maximumStateBytes { terminatedEarly = true }
        return true
    }

    /// The event: the Kinesis records plus the window's properties.
    ///
    ///     {"Records":[…],"window":{"start":"…","end":"…"},"state":{…},"shardId":"…","eventSourceARN":"…",
    ///      "isFinalInvokeForWindow":false,"isWindowTerminatedEarly":false}
    public func event(_ records: [StreamRecord], final: Bool, shardID: String, streamARN: String, region: String, roleARN: String)
        -> [UInt8] {
        var out = KinesisEvent.bytes(records, streamARN: streamARN, region: region, roleARN: roleARN)
        out.removeLast()  // the closing brace: the window's members follow the records
        out += ",".utf8
        out += JSONText.object([
            ("window", JSONText.object([
                ("start", JSONText.quote(Self.seconds(startMilliseconds))),
                ("end", JSONText.quote(Self.seconds(endMilliseconds))),
            ])),
            ("state", state),
            ("shardId", JSONText.quote(shardID)),
            ("eventSourceARN", JSONText.quote(streamARN)),
            ("isFinalInvokeForWindow", final ? "true" : "false"),
            ("isWindowTerminatedEarly", final && terminatedEarly ? "true" : "false"),
        ]).utf8.dropFirst()
        return out
    }

    /// Window boundaries as Lambda writes them: ISO 8601 to the second, `Z`.
    static func seconds(_ milliseconds: Int64) -> String {
        var text = Timestamps.iso8601(milliseconds: milliseconds)
        if let dot = text.firstIndex(of: ".") { text = String(text[..<dot]) + "Z" }
        return text
    }
}
