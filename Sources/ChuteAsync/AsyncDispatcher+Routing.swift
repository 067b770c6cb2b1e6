import ChuteCore
import ChuteStore
import Synchronization

/// Where a finished event's records go: its destination (queue, or another function as a
/// follow-up event), its dead-letter queue, and what cannot be delivered, kept for people.
extension AsyncDispatcher {
    /// The records an event leaves when it finishes with `condition`.
    func finish(_ event: AsyncEvent, _ condition: InvocationCondition, function: AsyncFunction?, arn: String,
                response: [UInt8]?, now: Int64) -> FinishedEvent {
        let record = InvocationRecord(event: event, condition: condition, functionARN: "\(arn):\(event.qualifier)",
                                      successResponse: response, timestampMilliseconds: now).jsonBytes
        var finished = FinishedEvent(condition: condition, record: String(decoding: record, as: UTF8.self))
        let destination = condition.isSuccess ? function?.invokeConfig.onSuccess : function?.invokeConfig.onFailure
        let parsed = condition.isSuccess ? function?.successRoute : function?.failureRoute
        if let destination, let parsed {
            route(record: record, to: destination, parsed: parsed, for: event, now: now, into: &finished)
        }
        if !condition.isSuccess, let target = function?.deadLetterTarget, let parsed = function?.deadLetterRoute {
            let dead = DeadLetterMessage(event: event, condition: condition)
            switch parsed {
            case .success(.queue(let name)):
                let attributes = dead.attributes.map { MessageAttribute(name: $0.name, dataType: $0.dataType, value: $0.value) }
                finished.deliveries.append(QueueDelivery(queue: name, message: QueueMessage(body: dead.body, attributes: attributes),
                                                         purpose: .deadLetter))
            case .success:
                deadLetterFailure((target, "dead-letter delivery to \(target) is not available yet: only queues are"), event, into: &finished)
            case .failure(let error):
                deadLetterFailure((target, error.message), event, into: &finished)
            }
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

    private func route(record: [UInt8], to arn: String, parsed: Result<Destination, ServiceError>, for event: AsyncEvent, now: Int64,
                       into finished: inout FinishedEvent) {
        switch parsed {
        case .success(.queue(let name)):
            finished.deliveries.append(QueueDelivery(queue: name, message: QueueMessage(body: record)))
        case .success(.function(let name, let qualifier)):
            guard event.chainDepth < AsyncEvent.maximumChainDepth else {
                destinationFailure((arn, "invocation chain stopped after \(AsyncEvent.maximumChainDepth) functions (Lambda's recursion limit)"), event, into: &finished)
                return
            }
            var followUp = AsyncEvent(requestID: RequestID.makeTimeOrdered(milliseconds: now), functionName: name, qualifier: qualifier, payload: record,
                                      receivedAtMilliseconds: now)
            followUp.chainDepth = event.chainDepth + 1
            finished.followUps.append(followUp)
        case .success(.topic), .success(.eventBus):
            destinationFailure((arn, "delivery to \(arn) is not available yet: queues and functions are"), event, into: &finished)
        case .failure(let error):
            destinationFailure((arn, error.message), event, into: &finished)
        }
    }
}
