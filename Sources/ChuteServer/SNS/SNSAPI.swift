import ChuteAsync
import ChuteCore
import ChuteStore
import Foundation
import Hummingbird
import NIOCore

/// Topics over SNS's query protocol (form-encoded `Action=…`, XML answers), for the aws CLI and
/// boto3: topics, subscriptions (sqs, lambda, http, https) with filter policies and raw delivery,
/// Publish and PublishBatch. Subscriptions are confirmed at once: Chute sends no
/// SubscriptionConfirmation to HTTP endpoints.
struct SNSAPI: Sendable {
    let registry: MessagingRegistry
    let router: MessageRouter
    let writer: PlanWriter
    let clock: @Sendable () -> Int64
    static let namespace = "http://sns.amazonaws.com/doc/2010-03-31/"
    /// SNS's message size limit.
    static let maximumMessageBytes = PublishedMessage.maximumBytes

    func handle(_ request: Request) async -> Response {
        do {
            var request = request
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: 4 * Self.maximumMessageBytes)
            } catch {
                throw ServiceError(type: "InvalidParameter", message: "Invalid parameter: the request is larger than \(4 * Self.maximumMessageBytes) bytes")
            }
            let input = QueryInput(form: String(decoding: body.readableBytesView, as: UTF8.self))
            let action = input["Action"] ?? ""
            let result: String?
            switch action {
            case "CreateTopic": result = try await createTopic(input)
            case "DeleteTopic": result = try await deleteTopic(input)
            case "ListTopics": result = listTopics()
            case "GetTopicAttributes": result = try topicAttributes(input)
            case "Subscribe": result = try await subscribe(input)
            case "Unsubscribe": result = try await unsubscribe(input)
            case "ListSubscriptions": result = listSubscriptions(of: registry.topics)
            case "ListSubscriptionsByTopic": result = listSubscriptions(of: [try existingTopic(input)])
            case "GetSubscriptionAttributes": result = try subscriptionAttributes(input)
            case "SetSubscriptionAttributes": result = try await setSubscriptionAttribute(input)
            case "Publish": result = try await publish(input)
            case "PublishBatch": result = try await publishBatch(input)
            case "":
                throw ServiceError(type: "MissingAction", message: "no Action: send SNS query requests (Action=…) or set X-Amz-Target for SQS and EventBridge")
            default:
                throw ServiceError(type: "InvalidAction", message: "The action \(action) is not valid for this endpoint.")
            }
            return AWSResponse.bytes(Array(QueryXML.response(action, namespace: Self.namespace, result: result).utf8), contentType: "text/xml")
        } catch let error as ServiceError {
            return AWSResponse.bytes(Array(QueryXML.error(error, namespace: Self.namespace).utf8), status: .init(code: error.statusCode),
                                     headers: [AWSResponse.errorTypeHeader: error.type], contentType: "text/xml")
        } catch {
            let failure = ServiceError(type: "InternalError", message: "\(error)", statusCode: 500)
            return AWSResponse.bytes(Array(QueryXML.error(failure, namespace: Self.namespace).utf8), status: .internalServerError,
                                     contentType: "text/xml")
        }
    }

    static let topicNotFound = ServiceError(type: "NotFound", message: "Topic does not exist", statusCode: 404)
    static let subscriptionNotFound = ServiceError(type: "NotFound", message: "Subscription does not exist", statusCode: 404)

    private func existingTopic(_ input: QueryInput) throws(ServiceError) -> Topic {
        let arn = try input.required(input["TopicArn"] != nil ? "TopicArn" : "TargetArn")
        guard let topic = registry.topic(named: arn) else { throw Self.topicNotFound }
        return topic
    }

    // MARK: Topics

    private func createTopic(_ input: QueryInput) async throws -> String {
        let name = try input.required("Name")
        guard MessagingARN.isValidName(name) else {
            throw ServiceError(type: "InvalidParameter",
                               message: "Invalid parameter: Topic Name: must be 1-256 letters, digits, hyphens and underscores (FIFO topics are not supported)")
        }
        let topic = try await registry.createTopic(name)
        return QueryXML.element("TopicArn", topic.arn)
    }

    private func deleteTopic(_ input: QueryInput) async throws -> String? {
        let arn = try input.required("TopicArn")
        try await registry.deleteTopic(arn: arn)  // deleting a missing topic succeeds, as in SNS
        return nil
    }

    private func listTopics() -> String {
        "<Topics>" + registry.topics.map { "<member>\(QueryXML.element("TopicArn", $0.arn))</member>" }.joined() + "</Topics>"
    }

    private func topicAttributes(_ input: QueryInput) throws(ServiceError) -> String {
        let topic = try existingTopic(input)
        return QueryXML.attributes([
            ("TopicArn", topic.arn), ("DisplayName", ""), ("Owner", registry.account),
            ("SubscriptionsConfirmed", String(topic.subscriptions.count)), ("SubscriptionsPending", "0"), ("SubscriptionsDeleted", "0"),
        ])
    }

    // MARK: Subscriptions

    private func subscribe(_ input: QueryInput) async throws -> String {
        let topicARN = try input.required("TopicArn")
        let protocolName = try input.required("Protocol")
        guard let kind = SubscriptionProtocol(rawValue: protocolName) else {
            throw ServiceError(type: "InvalidParameter", message: "Invalid parameter: Protocol: \(protocolName) is not one of sqs, lambda, http, https")
        }
        let endpoint = try input.required("Endpoint")
        try Self.validate(endpoint: endpoint, for: kind)
        let attributes = input.map("Attributes")
        var settings = TopicSubscription(arn: "", topicARN: topicARN, kind: kind, endpoint: endpoint)
        for (name, value) in attributes { try Self.apply(name, value, to: &settings) }
        let subscription = settings
        let arn = try await registry.updateTopic(topicARN) { topic throws(ServiceError) -> String in
            // Subscribing the same endpoint again returns the existing subscription, as SNS does.
            if let existing = topic.subscriptions.first(where: { $0.kind == kind && $0.endpoint == endpoint }) { return existing.arn }
            var new = subscription
            new.arn = "\(topicARN):\(RequestID.make())"
            topic.subscriptions.append(new)
            return new.arn
        }
        return QueryXML.element("SubscriptionArn", arn)
    }

    static func validate(endpoint: String, for kind: SubscriptionProtocol) throws(ServiceError) {
        let valid: Bool
        switch kind {
        case .sqs: if case .success(.queue) = Destination.parse(endpoint) { valid = true } else { valid = false }
        case .lambda: if case .success(.function) = Destination.parse(endpoint) { valid = true } else { valid = false }
        case .http, .https:
            if endpoint.hasPrefix(kind.rawValue + "://"), case .success(.http) = Destination.parse(endpoint) { valid = true } else { valid = false }
        }
        guard valid else {
            let expected = switch kind {
            case .sqs: "an SQS queue ARN"
            case .lambda: "a Lambda function ARN"
            case .http, .https: "a URL starting with \(kind.rawValue)://"
            }
            throw ServiceError(type: "InvalidParameter", message: "Invalid parameter: Endpoint: \(endpoint) is not \(expected)")
        }
    }

    /// Applies one subscription attribute; the error names the attribute and what is wrong.
    static func apply(_ name: String, _ value: String, to subscription: inout TopicSubscription) throws(ServiceError) {
        switch name {
        case "RawMessageDelivery":
            guard value == "true" || value == "false" else {
                throw ServiceError(type: "InvalidParameter", message: "Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [\(value)]. Must be true or false.")
            }
            guard value == "false" || subscription.kind != .lambda else {
                throw ServiceError(type: "InvalidParameter", message: "Invalid parameter: Attributes Reason: Delivery protocol [lambda] does not support raw message delivery.")
            }
            subscription.rawMessageDelivery = value == "true"
        case "FilterPolicy":
            if value.isEmpty {
                subscription.filterPolicy = nil
                return
            }
            do {
                _ = try EventPattern(value, for: .filterPolicy)
            } catch {
                throw ServiceError(type: "InvalidParameter", message: "Invalid parameter: FilterPolicy: \(error)")
            }
            subscription.filterPolicy = value
        case "FilterPolicyScope":
            guard let scope = FilterPolicyScope(rawValue: value) else {
                throw ServiceError(type: "InvalidParameter", message: "Invalid parameter: Attributes Reason: FilterPolicyScope: Invalid value [\(value)]. Please use either MessageBody or MessageAttributes")
            }
            subscription.filterPolicyScope = scope
        default:
            throw ServiceError(type: "InvalidParameter", message: "Invalid parameter: AttributeName: \(name) is not one of RawMessageDelivery, FilterPolicy, FilterPolicyScope")
        }
    }

    private func unsubscribe(_ input: QueryInput) async throws -> String? {
        let arn = try input.required("SubscriptionArn")
        guard let subscription = registry.subscription(arn: arn) else { throw Self.subscriptionNotFound }
        try await registry.updateTopic(subscription.topicARN) { topic throws(ServiceError) in topic.subscriptions.removeAll { $0.arn == arn } }
        return nil
    }

    private func listSubscriptions(of topics: [Topic]) -> String {
        let members = topics.flatMap(\.subscriptions).map { subscription in
            "<member>" + QueryXML.element("SubscriptionArn", subscription.arn) + QueryXML.element("Owner", registry.account)
                + QueryXML.element("Protocol", subscription.kind.rawValue) + QueryXML.element("Endpoint", subscription.endpoint)
                + QueryXML.element("TopicArn", subscription.topicARN) + "</member>"
        }
        return "<Subscriptions>" + members.joined() + "</Subscriptions>"
    }

    private func subscriptionAttributes(_ input: QueryInput) throws(ServiceError) -> String {
        let arn = try input.required("SubscriptionArn")
        guard let subscription = registry.subscription(arn: arn) else { throw Self.subscriptionNotFound }
        var pairs: [(String, String)] = [
            ("SubscriptionArn", subscription.arn), ("TopicArn", subscription.topicARN), ("Owner", registry.account),
            ("Protocol", subscription.kind.rawValue), ("Endpoint", subscription.endpoint),
            ("RawMessageDelivery", String(subscription.rawMessageDelivery)), ("PendingConfirmation", "false"),
            ("ConfirmationWasAuthenticated", "true"), ("FilterPolicyScope", subscription.filterPolicyScope.rawValue),
        ]
        if let policy = subscription.filterPolicy { pairs.append(("FilterPolicy", policy)) }
        return QueryXML.attributes(pairs)
    }

    private func setSubscriptionAttribute(_ input: QueryInput) async throws -> String? {
        let arn = try input.required("SubscriptionArn")
        let name = try input.required("AttributeName")
        let value = input["AttributeValue"] ?? ""
        guard let subscription = registry.subscription(arn: arn) else { throw Self.subscriptionNotFound }
        try await registry.updateTopic(subscription.topicARN) { topic throws(ServiceError) in
            guard let index = topic.subscriptions.firstIndex(where: { $0.arn == arn }) else { throw Self.subscriptionNotFound }
            try Self.apply(name, value, to: &topic.subscriptions[index])
        }
        return nil
    }

    // MARK: Publishing

    private func message(_ input: QueryInput, prefix: String, topicARN: String, now: Int64) throws(ServiceError) -> PublishedMessage {
        guard let text = input["\(prefix)Message"], !text.isEmpty else {
            throw ServiceError(type: "InvalidParameter", message: "Invalid parameter: Message: must not be empty")
        }
        let attributes = try input.messageAttributes("\(prefix)MessageAttributes")
        let size = text.utf8.count + attributes.reduce(0) { $0 + $1.name.utf8.count + $1.dataType.utf8.count + $1.value.utf8.count }
        guard size <= Self.maximumMessageBytes else {
            throw ServiceError(type: "InvalidParameter",
                               message: "Invalid parameter: Message too long: \(size) bytes with attributes, the limit is \(Self.maximumMessageBytes)")
        }
        return PublishedMessage(messageID: RequestID.make(), topicARN: topicARN, subject: input["\(prefix)Subject"], message: text,
                                attributes: attributes, timestampMilliseconds: now)
    }

    private func route(_ messages: [PublishedMessage], to topic: Topic, now: Int64) async throws {
        guard let routable = registry.topic(arn: topic.arn) else { throw Self.topicNotFound }
        var plan = DeliveryPlan()
        for message in messages {
            router.publish(message, to: routable, origin: .init(requestID: message.messageID, record: message.message), now: now, into: &plan)
        }
        try await writer.write(plan, now: now)
    }

    private func publish(_ input: QueryInput) async throws -> String {
        let topic = try existingTopic(input)
        let now = clock()
        let message = try message(input, prefix: "", topicARN: topic.arn, now: now)
        try await route([message], to: topic, now: now)
        return QueryXML.element("MessageId", message.messageID)
    }

    private func publishBatch(_ input: QueryInput) async throws -> String {
        let topic = try existingTopic(input)
        let now = clock()
        let indices = input.indices(under: "PublishBatchRequestEntries.member")
        guard !indices.isEmpty else {
            throw ServiceError(type: "EmptyBatchRequest", message: "The batch request doesn't contain any entries")
        }
        guard indices.count <= 10 else {
            throw ServiceError(type: "TooManyEntriesInBatchRequest", message: "The batch request contains more entries than permissible (10)")
        }
        var ids: Set<String> = []
        var accepted: [(String, PublishedMessage)] = []
        var failed: [String] = []
        for index in indices {
            let prefix = "PublishBatchRequestEntries.member.\(index)."
            let id = input["\(prefix)Id"] ?? ""
            guard ids.insert(id).inserted else {
                throw ServiceError(type: "BatchEntryIdsNotDistinct", message: "Two or more batch entries in the request have the same Id.")
            }
            do {
                accepted.append((id, try message(input, prefix: prefix, topicARN: topic.arn, now: now)))
            } catch {
                failed.append("<member>" + QueryXML.element("Id", id) + QueryXML.element("Code", error.type)
                              + QueryXML.element("Message", error.message) + "<SenderFault>true</SenderFault></member>")
            }
        }
        try await route(accepted.map(\.1), to: topic, now: now)
        let successful = accepted.map { "<member>" + QueryXML.element("Id", $0.0) + QueryXML.element("MessageId", $0.1.messageID) + "</member>" }
        return "<Successful>" + successful.joined() + "</Successful><Failed>" + failed.joined() + "</Failed>"
    }
}
