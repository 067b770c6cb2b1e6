/// Where an invocation record or a dead-letter message goes, read from its ARN.
public enum Destination: Sendable, Hashable {
    /// A built-in queue: `arn:aws:sqs:REGION:ACCOUNT:NAME`.
    case queue(name: String)
    /// Another function, invoked asynchronously with the record: `arn:aws:lambda:…:function:NAME[:QUALIFIER]`.
    case function(name: String, qualifier: String)
    /// A topic (`arn:aws:sns:REGION:ACCOUNT:NAME`): the record is published to it.
    case topic(arn: String)
    /// An event bus (`arn:aws:events:…:event-bus/NAME`): the record is the `detail` of an event on it.
    case eventBus(arn: String)
    /// An HTTP endpoint (`http://…` or `https://…`, a Chute extension): the record is POSTed to it.
    case http(url: String)

    /// Parses a destination ARN or URL; the error names what is wrong, in AWS's terms.
    public static func parse(_ arn: String) -> Result<Destination, ServiceError> {
        if arn.hasPrefix("http://") || arn.hasPrefix("https://") {
            guard HTTPEndpoint(arn) != nil else {
                return .failure(.invalidParameter(
                    "The destination URL \(arn.prefix(300)) is invalid: expected http(s)://HOST[:PORT]/PATH with a port from 1 to 65535, "
                        + "printable ASCII and at most \(HTTPEndpoint.maximumLength) characters"))
            }
            return .success(.http(url: arn))
        }
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 6, parts[0] == "arn", !parts[1].isEmpty else {
            return .failure(.invalidParameter("The destination ARN \(arn) is invalid: expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE"))
        }
        let resource = parts[5...].joined(separator: ":")
        switch parts[2] {
        case "sqs":
            guard parts.count == 6, !resource.isEmpty else { break }
            return .success(.queue(name: resource))
        case "lambda":
            guard parts.count >= 7, parts[5] == "function", !parts[6].isEmpty, parts.count <= 8 else { break }
            return .success(.function(name: parts[6], qualifier: parts.count == 8 ? parts[7] : "$LATEST"))
        case "sns":
            guard parts.count == 6, !resource.isEmpty else { break }
            return .success(.topic(arn: arn))
        case "events":
            guard resource.hasPrefix("event-bus/") else { break }
            return .success(.eventBus(arn: arn))
        default:
            return .failure(.invalidParameter("The destination ARN \(arn) is not supported: use an sqs, sns, lambda or events ARN, or an http(s) URL"))
        }
        return .failure(.invalidParameter("The destination ARN \(arn) is invalid for service \(parts[2])"))
    }

    /// Parses a dead-letter target (DeadLetterConfig.TargetArn): only a queue or a topic.
    public static func parseDeadLetter(_ arn: String) -> Result<Destination, ServiceError> {
        switch parse(arn) {
        case .success(.queue), .success(.topic): parse(arn)
        case .success: .failure(.invalidParameter("The dead-letter target \(arn) must be an SQS queue or an SNS topic ARN"))
        case .failure(let error): .failure(error)
        }
    }
}
