import ChuteCore
import ChuteStore
import Synchronization

/// Where a finished event's records go: its destination (queue, function, topic, event bus or
/// HTTP endpoint), its dead-letter queue or topic, and what cannot be delivered, kept for people.
extension AsyncDispatcher {
    /// The records an event leaves when it finishes with `condition`.
    func finish(_ event: AsyncEvent, _ condition: InvocationCondition, function: AsyncFunction?, arn: String,
                response: [UInt8]?, now: Int64) -> FinishedEvent {
        let qualifiedARN = "\(arn):\(event.qualifier)"
        let record = InvocationRecord(event: event, condition: condition, functionARN: qualifiedARN,
                                      successResponse: response, timestampMilliseconds: now).jsonBytes
        var finished = FinishedEvent(condition: condition, record: String(decoding: record, as: UTF8.self))
        let destination = condition.isSuccess ? function?.invokeConfig.onSuccess : function?.invokeConfig.onFailure
        let parsed = condition.isSuccess ? function?.successRoute : function?.failureRoute
        let origin = MessageRouter.Origin(requestID: event.requestID, functionName: event.functionName, chainDepth: event.chainDepth,
                                          record: finished.record)
        // What the event's chain may still deliver, spent by its destination's and dead-letter
        // target's deliveries, then shared among the events they lead to.
        var allowance = event.chainAllowance ?? FanOutBudget.deliveries
        if let destination, let parsed {
            var plan = DeliveryPlan()
            plan.fannedOut.deliveryLimit = allowance
            route(record: finished.record, condition: condition, to: destination, parsed: parsed, functionARN: qualifiedARN,
                  origin: origin, now: now, into: &plan)
            for failure in plan.undeliverable { destinationFailure((failure.destination, failure.reason), event, into: &finished) }
            plan.undeliverable = []
            allowance -= plan.fannedOut.deliveries
            finished.add(plan)
        }
        if !condition.isSuccess, let target = function?.deadLetterTarget, let parsed = function?.deadLetterRoute {
            let dead = DeadLetterMessage(event: event, condition: condition)
            let attributes = dead.attributes.map { MessageAttribute(name: $0.name, dataType: $0.dataType, value: $0.value) }
            switch parsed {
            case .success(.queue(let name)):
                finished.deliveries.append(QueueDelivery(queue: name, message: QueueMessage(body: dead.body, attributes: attributes),
                                                         purpose: .deadLetter))
            case .success(.topic(let arn)):
                // A topic as dead-letter target: the event is published with the same attributes.
                guard let topic = router.directory.topic(arn: arn) else {
                    deadLetterFailure((target, "the topic \(arn) does not exist"), event, into: &finished)
                    break
                }
                var plan = DeliveryPlan()
                plan.fannedOut.deliveryLimit = max(0, allowance)
                let message = PublishedMessage(messageID: RequestID.makeTimeOrdered(milliseconds: now), topicARN: arn,
                                               message: String(decoding: dead.body, as: UTF8.self), attributes: attributes,
                                               timestampMilliseconds: now)
                router.publish(message, to: topic, origin: origin, now: now, into: &plan)
                for failure in plan.undeliverable { deadLetterFailure((failure.destination, failure.reason), event, into: &finished) }
                plan.undeliverable = []
                allowance -= plan.fannedOut.deliveries
                finished.add(plan)
            case .success:
                deadLetterFailure((target, "a dead-letter target must be a queue or a topic"), event, into: &finished)
            case .failure(let error):
                deadLetterFailure((target, error.message), event, into: &finished)
            }
        }
        if !finished.followUps.isEmpty {
            let share = max(0, allowance) / finished.followUps.count
            for index in finished.followUps.indices { finished.followUps[index].chainAllowance = share }
        }
        return finished
    }

    private func deadLetterFailure(_ failure: (String, String), _ event: AsyncEvent, into finished: inout FinishedEvent) {
        finished.undeliverable.append(failure)
        counters.withLock { $0.deadLetterErrors += 1 }
        metrics.deadLetterFailed(event.functionName)
    }

    private func destinationFailure(_ failure: (String, String), _ event: AsyncEvent, into finished: inout FinishedEvent) {
        finished.undeliverable.append(failure)
        counters.withLock { $0.destinationDeliveryFailures += 1 }
        metrics.destinationDeliveryFailed(event.functionName)
    }

    private func route(record: String, condition: InvocationCondition, to arn: String, parsed: Result<Destination, ServiceError>,
                       functionARN: String, origin: MessageRouter.Origin, now: Int64, into plan: inout DeliveryPlan) {
        func unrouted(_ reason: String) {
            plan.undeliverable.append(UndeliverableDelivery(requestID: origin.requestID, destination: arn, reason: reason,
                                                            record: record, functionName: origin.functionName))
        }
        switch parsed {
        case .success(.queue(let name)):
            plan.queueDeliveries.append(QueueDelivery(queue: name, message: QueueMessage(body: Array(record.utf8))))
        case .success(.eventBus(let busARN)):
            guard let bus = router.directory.eventBus(arn: busARN) else { return unrouted("the event bus \(busARN) does not exist") }
            let event = BusEvent.invocationResult(id: RequestID.makeTimeOrdered(milliseconds: now), record: record, condition: condition,
                                                  busARN: busARN, functionARN: functionARN, account: router.account, region: router.region,
                                                  timeMilliseconds: now)
            router.put(event, on: bus, origin: origin, now: now, into: &plan)
        case .success(.http(let url)):
            plan.httpDeliveries.append(HTTPDelivery(
                url: url, body: Array(record.utf8),
                headers: [HTTPDeliveryHeader("Content-Type", "application/json"),
                          HTTPDeliveryHeader("X-Chute-Request-Id", origin.requestID),
                          HTTPDeliveryHeader("X-Chute-Function-Arn", functionARN),
                          HTTPDeliveryHeader("X-Chute-Condition", condition.rawValue)],
                requestID: origin.requestID, functionName: origin.functionName, origin: arn))
        case .success(.function), .success(.topic):
            router.send(record, to: arn, origin: origin, hops: 0, now: now, into: &plan)
        case .failure(let error):
            unrouted(error.message)
        }
    }
}

/// A host without topics or buses.
public struct NoMessaging: MessagingDirectory {
    public init() {}
    public func topic(arn: String) -> RoutableTopic? { nil }
    public func eventBus(arn: String) -> RoutableBus? { nil }
}
