/// An event source mapping: a function reading a stream or a queue in batches. What Lambda's
/// CreateEventSourceMapping makes and the configuration file declares; kept in the store.
public struct EventSourceMapping: Sendable, Hashable, Codable {
    public var uuid: String
    public var functionName: String
    /// The stream's or the queue's ARN.
    public var eventSourceARN: String
    public var settings: EventSourceMappingSettings
    public var lastModifiedMilliseconds: Int64

    public init(uuid: String, functionName: String, eventSourceARN: String, settings: EventSourceMappingSettings, lastModifiedMilliseconds: Int64) {
        self.uuid = uuid
        self.functionName = functionName
        self.eventSourceARN = eventSourceARN
        self.settings = settings
        self.lastModifiedMilliseconds = lastModifiedMilliseconds
    }

    public var source: EventSource? { EventSource(arn: eventSourceARN) }
}

/// What a mapping reads, from its ARN: `arn:aws:kinesis:REGION:ACCOUNT:stream/NAME` or
/// `arn:aws:sqs:REGION:ACCOUNT:NAME`.
public enum EventSource: Sendable, Hashable {
    case stream(name: String)
    case queue(name: String)

    public init?(arn: String) {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", !parts[5].isEmpty else { return nil }
        switch parts[2] {
        case "kinesis":
            guard parts[5].hasPrefix("stream/") else { return nil }
            let name = parts[5].dropFirst("stream/".count)
            guard !name.isEmpty, !name.contains("/") else { return nil }
            self = .stream(name: String(name))
        case "sqs":
            guard !parts[5].contains("/") else { return nil }
            self = .queue(name: String(parts[5]))
        default:
            return nil
        }
    }

    public var kind: EventSourceMappingSettings.Source {
        switch self {
        case .stream: .stream
        case .queue: .queue
        }
    }

    public static func streamARN(_ name: String, region: String, account: String) -> String {
        "arn:aws:kinesis:\(region):\(account):stream/\(name)"
    }

    public static func queueARN(_ name: String, region: String, account: String) -> String {
        "arn:aws:sqs:\(region):\(account):\(name)"
    }
}
