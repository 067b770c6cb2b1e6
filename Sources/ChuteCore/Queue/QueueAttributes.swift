/// A built-in queue's settings, as SQS names and bounds them. Pure: parsing from SQS's string
/// attribute map and validation live here, so the HTTP API, the configuration file and the store
/// agree on one set of rules.
public struct QueueAttributes: Sendable, Hashable {
    /// Seconds a received message stays hidden when the receiver does not say (0-43,200).
    public var visibilityTimeoutSeconds = 30
    /// Seconds a message is kept from when it was first sent (60-1,209,600; default 4 days).
    public var messageRetentionSeconds = 345_600
    /// Seconds every new message is hidden before its first delivery (0-900).
    public var delaySeconds = 0
    /// Largest message body in bytes (1,024-1,048,576).
    public var maximumMessageBytes = 1_048_576
    /// Long-poll wait when the receiver does not say (0-20).
    public var receiveWaitSeconds = 0
    /// Where a message goes once it was received more than `maxReceiveCount` times.
    public var redrivePolicy: RedrivePolicy?

    public init() {}

    public struct RedrivePolicy: Sendable, Hashable {
        /// The dead-letter queue's name (SQS names it by ARN; the account is this host's).
        public var deadLetterQueue: String
        /// 1-1,000.
        public var maxReceiveCount: Int

        public init(deadLetterQueue: String, maxReceiveCount: Int) {
            self.deadLetterQueue = deadLetterQueue
            self.maxReceiveCount = maxReceiveCount
        }
    }

    /// The attributes SQS lets a caller set; anything else is `InvalidAttributeName`.
    public static let settableNames = [
        "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
        "RedrivePolicy", "VisibilityTimeout",
    ]

    /// Applies SQS attribute strings (`CreateQueue`, `SetQueueAttributes`) over these settings.
    /// `queueArn(name)` names a queue for the redrive policy's `deadLetterTargetArn`.
    public mutating func apply(_ strings: [String: String], region: String, accountID: String) throws(ServiceError) {
        for name in strings.keys.sorted() {
            let text = strings[name]!
            switch name {
            case "VisibilityTimeout": visibilityTimeoutSeconds = try Self.integer(name, text, 0...43_200)
            case "MessageRetentionPeriod": messageRetentionSeconds = try Self.integer(name, text, 60...1_209_600)
            case "DelaySeconds": delaySeconds = try Self.integer(name, text, 0...900)
            case "MaximumMessageSize": maximumMessageBytes = try Self.integer(name, text, 1_024...1_048_576)
            case "ReceiveMessageWaitTimeSeconds": receiveWaitSeconds = try Self.integer(name, text, 0...20)
            case "RedrivePolicy":
                redrivePolicy = text.isEmpty ? nil : try Self.redrivePolicy(text, region: region, accountID: accountID)
            case "Policy", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled", "RedriveAllowPolicy":
                continue  // Accepted so existing templates work; a single-host queue has no use for them.
            default:
                throw ServiceError(type: "InvalidAttributeName", message: "Unknown Attribute \(name).")
            }
        }
    }

    /// The settable attributes as SQS reports them.
    public func strings(region: String, accountID: String) -> [String: String] {
        var strings = [
            "VisibilityTimeout": String(visibilityTimeoutSeconds),
            "MessageRetentionPeriod": String(messageRetentionSeconds),
            "DelaySeconds": String(delaySeconds),
            "MaximumMessageSize": String(maximumMessageBytes),
            "ReceiveMessageWaitTimeSeconds": String(receiveWaitSeconds),
        ]
        if let redrivePolicy {
            let arn = Self.queueArn(redrivePolicy.deadLetterQueue, region: region, accountID: accountID)
            strings["RedrivePolicy"] = #"{"deadLetterTargetArn":"\#(arn)","maxReceiveCount":\#(redrivePolicy.maxReceiveCount)}"#
        }
        return strings
    }

    public static func queueArn(_ name: String, region: String, accountID: String) -> String {
        "arn:aws:sqs:\(region):\(accountID):\(name)"
    }

    private static func integer(_ name: String, _ text: String, _ range: ClosedRange<Int>) throws(ServiceError) -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw ServiceError(type: "InvalidAttributeValue",
                               message: "Invalid value for the parameter \(name). Reason: must be an integer from \(range.lowerBound) to \(range.upperBound), got '\(text)'.")
        }
        return value
    }

    /// `{"deadLetterTargetArn":"arn:aws:sqs:REGION:ACCOUNT:NAME","maxReceiveCount":"5"}`; the count
    /// may be a string or a number, as SQS accepts both.
    private static func redrivePolicy(_ text: String, region: String, accountID: String) throws(ServiceError) -> RedrivePolicy {
        let invalid = { (reason: String) in
            ServiceError(type: "InvalidAttributeValue", message: "Value \(text) for parameter RedrivePolicy is invalid. Reason: \(reason)")
        }
        guard let fields = JSONText.flatObject(text) else { throw invalid("Redrive policy is not a valid JSON map.") }
        guard let arn = fields["deadLetterTargetArn"] else { throw invalid("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.") }
        guard let countText = fields["maxReceiveCount"] else { throw invalid("Redrive policy does not contain mandatory attribute: maxReceiveCount.") }
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "sqs", QueueName.isValid(String(parts[5])) else {
            throw invalid("Dead-letter target \(arn) is not an SQS queue ARN.")
        }
        guard parts[4] == accountID else { throw invalid("Dead-letter target \(arn) is not in this host's account \(accountID).") }
        guard let count = Int(countText), (1...1_000).contains(count) else {
            throw invalid("Invalid value for maxReceiveCount: \(countText), valid values are from 1 to 1000 both inclusive.")
        }
        return RedrivePolicy(deadLetterQueue: String(parts[5]), maxReceiveCount: count)
    }
}
