import ChuteAsync
import ChuteCore
import ChuteStore
import Foundation
import Testing

/// Topic fan-out and event-bus routing as pure functions: which deliveries a message or an event
/// becomes, and in which shape.
@Suite struct MessageRouterTests {
    static let now: Int64 = 1_700_000_000_123
    static let topicARN = "arn:aws:sns:us-east-1:000000000000:orders"

    final class Directory: MessagingDirectory, @unchecked Sendable {
        var topics: [String: Topic] = [:]
        var buses: [String: EventBus] = [:]
        func topic(arn: String) -> RoutableTopic? { topics[arn].map(RoutableTopic.init) }
        func eventBus(arn: String) -> RoutableBus? { buses[arn].map(RoutableBus.init) }
    }

    static func router(_ directory: Directory) -> MessageRouter {
        let counter = Counter()
        return MessageRouter(directory: directory, makeID: { _ in counter.next() })
    }

    final class Counter: @unchecked Sendable {
        private var value = 0
        func next() -> String { value += 1; return "id-\(value)" }
    }

    static func subscription(_ id: String, _ kind: SubscriptionProtocol, _ endpoint: String, raw: Bool = false, policy: String? = nil,
                             scope: FilterPolicyScope = .messageAttributes) -> TopicSubscription {
        TopicSubscription(arn: "\(topicARN):\(id)", topicARN: topicARN, kind: kind, endpoint: endpoint, rawMessageDelivery: raw,
                          filterPolicy: policy, filterPolicyScope: scope)
    }

    static func json(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func aMessageFansOutToEachKindOfSubscriberInItsShape() throws {
        let directory = Directory()
        directory.topics[Self.topicARN] = Topic(name: "orders", arn: Self.topicARN, subscriptions: [
            Self.subscription("a", .sqs, "arn:aws:sqs:us-east-1:000000000000:enveloped"),
            Self.subscription("b", .sqs, "arn:aws:sqs:us-east-1:000000000000:raw", raw: true),
            Self.subscription("c", .http, "http://127.0.0.1:1/hook"),
            Self.subscription("d", .lambda, "arn:aws:lambda:us-east-1:000000000000:function:audit"),
        ])
        let message = PublishedMessage(messageID: "m-1", topicARN: Self.topicARN, subject: "new order", message: #"{"order":42}"#,
                                       attributes: [MessageAttribute(name: "kind", dataType: "String", value: "big")],
                                       timestampMilliseconds: Self.now)
        var plan = DeliveryPlan()
        Self.router(directory).publish(message, to: try #require(directory.topic(arn: Self.topicARN)),
                                       origin: .init(requestID: "m-1", record: message.message), now: Self.now, into: &plan)

        #expect(plan.queueDeliveries.map(\.queue) == ["enveloped", "raw"])
        let envelope = try Self.json(plan.queueDeliveries[0].message.body)
        #expect(envelope["Type"] as? String == "Notification")
        #expect(envelope["MessageId"] as? String == "m-1")
        #expect(envelope["TopicArn"] as? String == Self.topicARN)
        #expect(envelope["Subject"] as? String == "new order")
        #expect(envelope["Message"] as? String == #"{"order":42}"#)
        #expect(envelope["Timestamp"] as? String == "2023-11-14T22:13:20.123Z")
        #expect((envelope["MessageAttributes"] as? [String: [String: String]])?["kind"] == ["Type": "String", "Value": "big"])
        #expect(String(decoding: plan.queueDeliveries[1].message.body, as: UTF8.self) == #"{"order":42}"#)
        #expect(plan.queueDeliveries[1].message.attributes == message.attributes)

        let post = try #require(plan.httpDeliveries.first)
        #expect(post.url == "http://127.0.0.1:1/hook")
        #expect(post.headers.contains(HTTPDeliveryHeader("x-amz-sns-message-type", "Notification")))
        #expect(post.headers.contains(HTTPDeliveryHeader("x-amz-sns-subscription-arn", "\(Self.topicARN):c")))
        #expect(try Self.json(post.body)["Message"] as? String == #"{"order":42}"#)

        let event = try #require(plan.followUps.first)
        #expect(event.functionName == "audit")
        let record = try #require((try Self.json(event.payload)["Records"] as? [[String: Any]])?.first)
        #expect(record["EventSource"] as? String == "aws:sns")
        #expect(record["EventSubscriptionArn"] as? String == "\(Self.topicARN):d")
        #expect((record["Sns"] as? [String: Any])?["Message"] as? String == #"{"order":42}"#)
        #expect(plan.undeliverable.isEmpty)
    }

    @Test func filterPoliciesSelectByAttributesOrByBody() throws {
        let directory = Directory()
        directory.topics[Self.topicARN] = Topic(name: "orders", arn: Self.topicARN, subscriptions: [
            Self.subscription("big", .sqs, "arn:aws:sqs:us-east-1:000000000000:big", policy: #"{"size":[{"numeric":[">=",100]}]}"#),
            Self.subscription("eu", .sqs, "arn:aws:sqs:us-east-1:000000000000:eu", policy: #"{"region":[{"prefix":"eu-"}]}"#,
                              scope: .messageBody),
            Self.subscription("all", .sqs, "arn:aws:sqs:us-east-1:000000000000:all"),
        ])
        let topic = try #require(directory.topic(arn: Self.topicARN))
        func queues(_ body: String, _ attributes: [MessageAttribute]) -> [String] {
            var plan = DeliveryPlan()
            let message = PublishedMessage(messageID: "m", topicARN: Self.topicARN, message: body, attributes: attributes,
                                           timestampMilliseconds: Self.now)
            Self.router(directory).publish(message, to: topic, origin: .init(requestID: "m", record: body), now: Self.now, into: &plan)
            return plan.queueDeliveries.map(\.queue)
        }
        #expect(queues(#"{"region":"eu-west-1"}"#, [MessageAttribute(name: "size", dataType: "Number", value: "250")]) == ["big", "eu", "all"])
        #expect(queues(#"{"region":"us-east-1"}"#, [MessageAttribute(name: "size", dataType: "Number", value: "99")]) == ["all"])
        // A String attribute is not a number, and a body that is not JSON matches no body policy.
        #expect(queues("plain text", [MessageAttribute(name: "size", dataType: "String", value: "250")]) == ["all"])
    }

    static let busARN = "arn:aws:events:us-east-1:000000000000:event-bus/results"

    @Test func aRecordOnABusReachesTheTargetsOfMatchingRulesAsLambdaSendsIt() throws {
        let directory = Directory()
        directory.buses[Self.busARN] = EventBus(name: "results", arn: Self.busARN, rules: [
            EventRule(name: "failures", arn: "rule-1", eventPattern: #"{"source":["lambda"],"detail-type":[{"suffix":"Failure"}]}"#,
                      targets: [RuleTarget(id: "q", arn: "arn:aws:sqs:us-east-1:000000000000:failures")]),
            EventRule(name: "all-from-f", arn: "rule-2", eventPattern: #"{"detail":{"requestContext":{"functionArn":[{"prefix":"arn:aws:lambda"}]}}}"#,
                      targets: [RuleTarget(id: "q", arn: "arn:aws:sqs:us-east-1:000000000000:everything"),
                                RuleTarget(id: "h", arn: "http://127.0.0.1:1/events")]),
            EventRule(name: "disabled", arn: "rule-3", eventPattern: #"{"source":["lambda"]}"#, enabled: false,
                      targets: [RuleTarget(id: "q", arn: "arn:aws:sqs:us-east-1:000000000000:never")]),
        ])
        let record = #"{"version":"1.0","requestContext":{"requestId":"r-1","functionArn":"arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST","condition":"Success"}}"#
        let event = BusEvent.invocationResult(id: "e-1", record: record, condition: .success, busARN: Self.busARN,
                                              functionARN: "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST",
                                              account: "000000000000", region: "us-east-1", timeMilliseconds: Self.now)
        var plan = DeliveryPlan()
        let matched = Self.router(directory).put(event, on: try #require(directory.eventBus(arn: Self.busARN)),
                                                 origin: .init(requestID: "r-1", record: record), now: Self.now, into: &plan)
        #expect(matched == 1)
        #expect(plan.queueDeliveries.map(\.queue) == ["everything"])
        let delivered = try Self.json(plan.queueDeliveries[0].message.body)
        #expect(delivered["source"] as? String == "lambda")
        #expect(delivered["detail-type"] as? String == "Lambda Function Invocation Result - Success")
        #expect(delivered["version"] as? String == "0")
        #expect(delivered["time"] as? String == "2023-11-14T22:13:20Z")
        #expect(delivered["resources"] as? [String] == [Self.busARN, "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"])
        #expect((delivered["detail"] as? [String: Any])?["version"] as? String == "1.0")
        #expect(plan.httpDeliveries.map(\.url) == ["http://127.0.0.1:1/events"])
    }

    /// A bus whose rule targets itself `targets` times, and an event put on it.
    static func selfTargetingBus(targets: Int, extra: [RuleTarget] = []) -> (Directory, BusEvent) {
        let directory = Directory()
        directory.buses[Self.busARN] = EventBus(name: "results", arn: Self.busARN, rules: [
            EventRule(name: "again", arn: "rule", eventPattern: #"{"source":["app"]}"#,
                      targets: (0..<targets).map { RuleTarget(id: "self-\($0)", arn: Self.busARN) } + extra),
        ])
        let event = BusEvent(id: "e", source: "app", detailType: "t", account: "000000000000", region: "us-east-1",
                             timeMilliseconds: Self.now, detail: "{}")
        return (directory, event)
    }

    @Test func anEventGoesFromBusToBusOnceAndWhatAFurtherHopWouldSendIsKept() throws {
        // One bus targeting itself three times, plus a queue: once multiplied 3¹⁶ times.
        let (directory, event) = Self.selfTargetingBus(targets: 3, extra: [RuleTarget(id: "q", arn: "arn:aws:sqs:us-east-1:000000000000:seen")])
        var plan = DeliveryPlan()
        Self.router(directory).put(event, on: try #require(directory.eventBus(arn: Self.busARN)),
                                   origin: .init(requestID: "e", record: event.json), now: Self.now, into: &plan)
        // The put and its three copies one hop on each reach the queue; the copies' own bus targets are kept.
        #expect(plan.queueDeliveries.count == 4)
        #expect(plan.undeliverable.count == 9)
        #expect(plan.undeliverable.allSatisfy { $0.reason.contains("not routed to a further bus") && $0.destination == Self.busARN })
    }

    @Test func oneRequestFansOutToNoMoreThanTheBudget() throws {
        // A topic with more subscribers than the budget allows: the rest is one undeliverable record.
        let directory = Directory()
        let count = FanOutBudget.deliveries + 500
        directory.topics[Self.topicARN] = Topic(name: "orders", arn: Self.topicARN, subscriptions: (0..<count).map {
            Self.subscription("s\($0)", .sqs, "arn:aws:sqs:us-east-1:000000000000:q\($0)", raw: true)
        })
        let message = PublishedMessage(messageID: "m", topicARN: Self.topicARN, message: "hello", timestampMilliseconds: Self.now)
        var plan = DeliveryPlan()
        Self.router(directory).publish(message, to: try #require(directory.topic(arn: Self.topicARN)),
                                       origin: .init(requestID: "m", record: "hello"), now: Self.now, into: &plan)
        #expect(plan.queueDeliveries.count == FanOutBudget.deliveries)
        #expect(plan.undeliverable.count == 1)
        #expect(plan.undeliverable.first?.reason.contains("fan-out budget spent") == true)
        #expect(plan.undeliverable.first?.record == "hello")

        // Bytes count too: copies of a 200 KB message stop at 64 MB.
        let big = String(repeating: "x", count: 200_000)
        let large = PublishedMessage(messageID: "big", topicARN: Self.topicARN, message: big, timestampMilliseconds: Self.now)
        var bytesPlan = DeliveryPlan()
        Self.router(directory).publish(large, to: try #require(directory.topic(arn: Self.topicARN)),
                                       origin: .init(requestID: "big", record: big), now: Self.now, into: &bytesPlan)
        #expect(bytesPlan.queueDeliveries.count == FanOutBudget.bytes / big.utf8.count)  // none past 64 MB
        #expect(bytesPlan.undeliverable.count == 1)
    }

    @Test func everyHopKeepsToTheServicesSizeLimits() throws {
        // A record wrapped again at every hop grows about fourfold a hop; the limits end it.
        let directory = Directory()
        directory.topics[Self.topicARN] = Topic(name: "orders", arn: Self.topicARN, subscriptions: [
            Self.subscription("q", .sqs, "arn:aws:sqs:us-east-1:000000000000:seen", raw: true),
        ])
        directory.buses[Self.busARN] = EventBus(name: "results", arn: Self.busARN, rules: [
            EventRule(name: "all", arn: "rule", eventPattern: #"{"source":["app"]}"#,
                      targets: [RuleTarget(id: "q", arn: "arn:aws:sqs:us-east-1:000000000000:seen")]),
        ])
        let router = Self.router(directory)
        let origin = MessageRouter.Origin(requestID: "r", record: "{}")
        var plan = DeliveryPlan()
        let small = String(repeating: "x", count: 1000)
        router.send(small, to: Self.topicARN, origin: origin, hops: 0, now: Self.now, into: &plan)
        router.send(small, to: "arn:aws:lambda:us-east-1:000000000000:function:f", origin: origin, hops: 0, now: Self.now, into: &plan)
        #expect(plan.queueDeliveries.count == 1 && plan.followUps.count == 1 && plan.undeliverable.isEmpty)

        router.send(String(repeating: "x", count: PublishedMessage.maximumBytes + 1), to: Self.topicARN, origin: origin, hops: 0,
                    now: Self.now, into: &plan)
        router.send(String(repeating: "x", count: AsyncEvent.maximumPayloadBytes + 1), to: "arn:aws:lambda:us-east-1:000000000000:function:f",
                    origin: origin, hops: 0, now: Self.now, into: &plan)
        let big = BusEvent(id: "e", source: "app", detailType: "t", account: "000000000000", region: "us-east-1", timeMilliseconds: Self.now,
                           detail: #"{"pad":""# + String(repeating: "x", count: BusEvent.maximumBytes) + #""}"#)
        router.put(big, on: try #require(directory.eventBus(arn: Self.busARN)), origin: origin, now: Self.now, into: &plan)
        #expect(plan.queueDeliveries.count == 1 && plan.followUps.count == 1)
        #expect(plan.undeliverable.map(\.destination) == [Self.topicARN, "arn:aws:lambda:us-east-1:000000000000:function:f", Self.busARN])
        #expect(plan.undeliverable.allSatisfy { $0.reason.contains("at most") })
    }

    @Test func targetsThatDoNotExistAreKeptWithTheReason() throws {
        var plan = DeliveryPlan()
        let router = Self.router(Directory())
        router.send("{}", to: Self.topicARN, origin: .init(requestID: "r", record: "{}"), hops: 0, now: Self.now, into: &plan)
        router.send("{}", to: "ftp://nowhere", origin: .init(requestID: "r", record: "{}"), hops: 0, now: Self.now, into: &plan)
        #expect(plan.undeliverable.map(\.destination) == [Self.topicARN, "ftp://nowhere"])
        #expect(plan.undeliverable.first?.reason == "the topic \(Self.topicARN) does not exist")
    }
}
