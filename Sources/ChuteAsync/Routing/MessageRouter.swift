import ChuteCore
import ChuteStore

/// Turns messages, events and records into deliveries: fans a topic's messages out to the
/// subscriptions whose filter policies let them through, and routes a bus's events through the
/// rules whose patterns match to their targets. Pure: the store writes the resulting plan in one
/// transaction with whatever caused it.
public struct MessageRouter: Sendable {
    public let directory: any MessagingDirectory
    public let region: String
    public let account: String
    /// Makes message and event ids (time-ordered UUIDs in the host; fixed ones in tests).
    let makeID: @Sendable (Int64) -> String

    /// Most topic and bus hops one delivery may take within one request; a backstop, since the
    /// bus rule below and the topics' targets already end every path sooner.
    public static let maximumHops = 16

    /// EventBridge routes an event from one bus to another once: "EventBridge can't route events
    /// received from a sender event bus to a third event bus". A bus whose rules target itself,
    /// or buses targeting each other, therefore end after one hop, and what a further hop would
    /// have sent is kept as undeliverable with the reason, never multiplied.
    public static let maximumBusHops = 1

    public init(directory: any MessagingDirectory, region: String = FunctionConfiguration.defaultRegion,
                account: String = FunctionConfiguration.defaultAccountID,
                makeID: @escaping @Sendable (Int64) -> String = { RequestID.makeTimeOrdered(milliseconds: $0) }) {
        self.directory = directory
        self.region = region
        self.account = account
        self.makeID = makeID
    }

    /// What a delivery is about, for the deliveries and for what cannot be delivered.
    public struct Origin: Sendable {
        /// The request id of the record, or the message or event id.
        public var requestID: String
        /// The function whose record this is; nil for published messages and put events.
        public var functionName: String?
        /// Functions invoked so far in this chain (Lambda stops a chain after 16).
        public var chainDepth: Int
        /// What a person sees when the delivery is kept as undeliverable.
        public var record: String

        public init(requestID: String, functionName: String? = nil, chainDepth: Int = 0, record: String) {
            self.requestID = requestID
            self.functionName = functionName
            self.chainDepth = chainDepth
            self.record = record
        }
    }

    // MARK: Topics

    /// Fans `message` out to `topic`'s subscriptions.
    public func publish(_ message: PublishedMessage, to topic: RoutableTopic, origin: Origin, hops: Int = 0, now: Int64,
                        into plan: inout DeliveryPlan) {
        guard hops < Self.maximumHops else {
            return keep(origin, topic.topic.arn, "stopped after \(Self.maximumHops) topic and bus hops (a loop?)", into: &plan)
        }
        let size = message.message.utf8.count
        guard size <= PublishedMessage.maximumBytes else {
            return keep(origin, topic.topic.arn, "the message is \(size) bytes; a topic takes messages of at most \(PublishedMessage.maximumBytes) bytes",
                        into: &plan)
        }
        var attributes: JSONValue?
        var body: JSONValue??
        for (subscription, filter) in zip(topic.topic.subscriptions, topic.filters) {
            // A spent budget ends the fan-out here (its cut recorded once), not after every filter.
            if plan.fannedOut.isExhausted, !spend(0, origin, at: topic.topic.arn, into: &plan) { return }
            switch subscription.filterPolicyScope {
            case .messageAttributes:
                if attributes == nil { attributes = message.filterableAttributes }
                guard filter.matches(attributes!) else { continue }
            case .messageBody:
                if body == nil { body = .some(try? JSONValue.parse(message.message)) }
                if case .everything = filter {} else {
                    guard case .some(.some(let parsed)) = body, case .object = parsed, filter.matches(parsed) else { continue }
                }
            }
            deliver(message, to: subscription, origin: origin, hops: hops, now: now, into: &plan)
        }
    }

    private func deliver(_ message: PublishedMessage, to subscription: TopicSubscription, origin: Origin, hops: Int, now: Int64,
                         into plan: inout DeliveryPlan) {
        switch subscription.kind {
        case .sqs:
            guard case .success(.queue(let name)) = Destination.parse(subscription.endpoint) else {
                return keep(origin, subscription.endpoint, "the subscription's endpoint is not a queue ARN", into: &plan)
            }
            let queued = subscription.rawMessageDelivery
                ? QueueMessage(body: Array(message.message.utf8), attributes: message.attributes)
                : QueueMessage(body: Array(SNSEnvelope.notification(message, subscriptionARN: subscription.arn, region: region).utf8))
            guard spend(queued.body.count, origin, at: subscription.endpoint, into: &plan) else { return }
            plan.queueDeliveries.append(QueueDelivery(queue: name, message: queued))
        case .lambda:
            let event = SNSEnvelope.functionEvent(message, subscriptionARN: subscription.arn, region: region)
            send(event, to: subscription.endpoint, origin: origin, hops: hops, now: now, into: &plan)
        case .http, .https:
            let body = subscription.rawMessageDelivery ? message.message
                : SNSEnvelope.notification(message, subscriptionARN: subscription.arn, region: region)
            guard spend(body.utf8.count, origin, at: subscription.endpoint, into: &plan) else { return }
            plan.httpDeliveries.append(HTTPDelivery(
                url: subscription.endpoint, body: Array(body.utf8),
                headers: [HTTPDeliveryHeader("Content-Type", "text/plain; charset=UTF-8"),
                          HTTPDeliveryHeader("x-amz-sns-message-type", "Notification"),
                          HTTPDeliveryHeader("x-amz-sns-message-id", message.messageID),
                          HTTPDeliveryHeader("x-amz-sns-topic-arn", message.topicARN),
                          HTTPDeliveryHeader("x-amz-sns-subscription-arn", subscription.arn)],
                requestID: origin.requestID, functionName: origin.functionName, origin: subscription.arn))
        }
    }

    // MARK: Event buses

    /// Routes `event` through `bus`'s enabled rules to the targets of every rule that matches;
    /// returns how many rules matched. `busHops` counts the buses the event came through.
    @discardableResult
    public func put(_ event: BusEvent, on bus: RoutableBus, origin: Origin, hops: Int = 0, busHops: Int = 0, now: Int64,
                    into plan: inout DeliveryPlan) -> Int {
        guard hops < Self.maximumHops else {
            keep(origin, bus.bus.arn, "stopped after \(Self.maximumHops) topic and bus hops (a loop?)", into: &plan)
            return 0
        }
        let json = event.json
        // Each hop keeps to the services' size limits, so a record wrapped again at every hop (an
        // envelope around a record around an envelope) cannot grow from bytes into gigabytes.
        guard json.utf8.count <= BusEvent.maximumBytes else {
            keep(origin, bus.bus.arn, "the event is \(json.utf8.count) bytes; an event bus takes events of at most \(BusEvent.maximumBytes) bytes",
                 into: &plan)
            return 0
        }
        guard let parsed = try? JSONValue.parse(json) else { return 0 }
        var matched = 0
        for (rule, filter) in bus.rules {
            if plan.fannedOut.isExhausted, !spend(0, origin, at: bus.bus.arn, into: &plan) { break }
            guard filter.matches(parsed) else { continue }
            matched += 1
            for target in rule.targets {
                if let name = MessagingARN.eventBusName(target.arn) {
                    let arn = MessagingARN.eventBus(name, region: region, account: account)
                    guard busHops < Self.maximumBusHops else {
                        keep(origin, target.arn, "an event that came from another event bus is not routed to a further bus "
                             + "(EventBridge routes bus to bus once; rule \(rule.arn))", into: &plan)
                        continue
                    }
                    guard let next = directory.eventBus(arn: arn) else {
                        keep(origin, target.arn, "the event bus \(target.arn) does not exist", into: &plan)
                        continue
                    }
                    put(event, on: next, origin: origin, hops: hops + 1, busHops: busHops + 1, now: now, into: &plan)
                } else {
                    send(target.input ?? json, to: target.arn, origin: origin, hops: hops, now: now, into: &plan,
                         httpHeaders: [HTTPDeliveryHeader("Content-Type", "application/json"),
                                       HTTPDeliveryHeader("X-Chute-Event-Id", event.id),
                                       HTTPDeliveryHeader("X-Chute-Rule-Arn", rule.arn)])
                }
            }
        }
        return matched
    }

    // MARK: Any target

    /// Sends `body` to a queue, function, topic (published as its message) or HTTP endpoint named
    /// by ARN or URL. Buses are routed by `put`, which needs the event itself.
    public func send(_ body: String, to target: String, origin: Origin, hops: Int, now: Int64, into plan: inout DeliveryPlan,
                     httpHeaders: [HTTPDeliveryHeader] = [HTTPDeliveryHeader("Content-Type", "application/json")],
                     attributes: [MessageAttribute] = []) {
        switch Destination.parse(target) {
        case .success(.queue(let name)):
            guard spend(body.utf8.count, origin, at: target, into: &plan) else { return }
            plan.queueDeliveries.append(QueueDelivery(queue: name, message: QueueMessage(body: Array(body.utf8), attributes: attributes)))
        case .success(.function(let name, let qualifier)):
            guard origin.chainDepth < AsyncEvent.maximumChainDepth else {
                return keep(origin, target, "invocation chain stopped after \(AsyncEvent.maximumChainDepth) functions (Lambda's recursion limit)",
                            into: &plan)
            }
            guard body.utf8.count <= AsyncEvent.maximumPayloadBytes else {
                return keep(origin, target, "the event is \(body.utf8.count) bytes; Lambda takes at most \(AsyncEvent.maximumPayloadBytes) bytes "
                            + "for an asynchronous invocation", into: &plan)
            }
            guard spend(body.utf8.count, origin, at: target, into: &plan) else { return }
            var followUp = AsyncEvent(requestID: makeID(now), functionName: name, qualifier: qualifier, payload: Array(body.utf8),
                                      receivedAtMilliseconds: now)
            followUp.chainDepth = origin.chainDepth + 1
            plan.followUps.append(followUp)
        case .success(.topic(let arn)):
            guard let topic = directory.topic(arn: arn) else {
                return keep(origin, target, "the topic \(arn) does not exist", into: &plan)
            }
            let message = PublishedMessage(messageID: makeID(now), topicARN: arn, message: body, attributes: attributes,
                                           timestampMilliseconds: now)
            publish(message, to: topic, origin: origin, hops: hops + 1, now: now, into: &plan)
        case .success(.eventBus(let arn)):
            keep(origin, arn, "an event bus takes events, not a message", into: &plan)
        case .success(.http(let url)):
            guard spend(body.utf8.count, origin, at: target, into: &plan) else { return }
            plan.httpDeliveries.append(HTTPDelivery(url: url, body: Array(body.utf8), headers: httpHeaders, requestID: origin.requestID,
                                                    functionName: origin.functionName, origin: target))
        case .failure(let error):
            keep(origin, target, error.message, into: &plan)
        }
    }

    private func keep(_ origin: Origin, _ destination: String, _ reason: String, into plan: inout DeliveryPlan) {
        guard spend(origin.record.utf8.count, origin, at: destination, into: &plan) else { return }
        plan.undeliverable.append(UndeliverableDelivery(requestID: origin.requestID, destination: destination, reason: reason,
                                                        record: origin.record, functionName: origin.functionName))
    }

    /// Takes one delivery of `bytes` from the request's fan-out budget. Once it is spent, nothing
    /// more is added, and the first delivery refused for each origin is kept as undeliverable
    /// with the reason and the origin's record, so that a person sees what was cut.
    private func spend(_ bytes: Int, _ origin: Origin, at destination: String, into plan: inout DeliveryPlan) -> Bool {
        guard !plan.fannedOut.admits(bytes) else {
            plan.fannedOut.deliveries += 1
            plan.fannedOut.bytes += bytes
            return true
        }
        if plan.fannedOut.cut.insert(origin.requestID).inserted {
            let reason = "fan-out budget spent: one request, with every event it leads to, makes at most \(FanOutBudget.deliveries) "
                + "deliveries, and one hop at most \(FanOutBudget.bytes / 1_048_576) MB; from here on these deliveries were not made"
            plan.undeliverable.append(UndeliverableDelivery(requestID: origin.requestID, destination: destination, reason: reason,
                                                            record: origin.record, functionName: origin.functionName))
        }
        return false
    }
}
