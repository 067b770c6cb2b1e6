/// An event on an event bus, in EventBridge's envelope:
///
///     {"version":"0","id":"…","detail-type":"…","source":"…","account":"…","time":"2019-11-14T18:16:05Z",
///      "region":"…","resources":[…],"detail":{…}}
public struct BusEvent: Sendable, Hashable {
    /// EventBridge's limit on one event (256 KB): a record larger than this is not put on a bus.
    public static let maximumBytes = 262_144

    public var id: String
    public var source: String
    public var detailType: String
    public var account: String
    public var region: String
    public var timeMilliseconds: Int64
    public var resources: [String]
    /// The detail's JSON text (an object).
    public var detail: String

    public init(id: String, source: String, detailType: String, account: String, region: String, timeMilliseconds: Int64,
                resources: [String] = [], detail: String) {
        self.id = id
        self.source = source
        self.detailType = detailType
        self.account = account
        self.region = region
        self.timeMilliseconds = timeMilliseconds
        self.resources = resources
        self.detail = detail
    }

    /// The event Lambda puts on a bus destination for an invocation record (`source` "lambda",
    /// `resources` the bus and the qualified function).
    public static func invocationResult(id: String, record: String, condition: InvocationCondition, busARN: String,
                                        functionARN: String, account: String, region: String, timeMilliseconds: Int64) -> BusEvent {
        BusEvent(id: id, source: "lambda",
                 detailType: condition.isSuccess ? "Lambda Function Invocation Result - Success" : "Lambda Function Invocation Result - Failure",
                 account: account, region: region, timeMilliseconds: timeMilliseconds, resources: [busARN, functionARN], detail: record)
    }

    public var json: String {
        JSONText.object([
            ("version", JSONText.quote("0")),
            ("id", JSONText.quote(id)),
            ("detail-type", JSONText.quote(detailType)),
            ("source", JSONText.quote(source)),
            ("account", JSONText.quote(account)),
            // EventBridge writes whole seconds.
            ("time", JSONText.quote(String(Timestamps.iso8601(milliseconds: timeMilliseconds).prefix(19)) + "Z")),
            ("region", JSONText.quote(region)),
            ("resources", "[" + resources.map(JSONText.quote).joined(separator: ",") + "]"),
            ("detail", detail),
        ])
    }
}
