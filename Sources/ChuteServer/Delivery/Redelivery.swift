import ChuteAsync
import ChuteCore
import ChuteStore

/// Redelivers what was kept as undeliverable, once its cause is fixed (the queue created, the
/// topic or bus made, the endpoint back): a kept record is routed to its destination again and
/// removed in the same transaction (if it still cannot be delivered, it is kept again with the
/// new reason); an undeliverable HTTP delivery goes back to the outbox with fresh attempts.
public struct Redelivery: Sendable {
    let store: any HostStore
    let router: MessageRouter

    public init(store: any HostStore, messaging: any MessagingDirectory) {
        self.store = store
        router = MessageRouter(directory: messaging)
    }

    public struct Report: Sendable, Hashable {
        public var records = 0
        public var httpDeliveries = 0
        /// Kept again, with the reason.
        public var stillUndeliverable: [UndeliverableDelivery] = []
    }

    /// Redelivers the kept records and HTTP deliveries named (all of them when both are nil).
    public func redeliver(records recordIDs: [Int64]?, httpDeliveries httpIDs: [Int64]?, now: Int64) async throws -> Report {
        var report = Report()
        let all = recordIDs == nil && httpIDs == nil
        if all || recordIDs != nil {
            let wanted = recordIDs.map(Set.init)
            for record in try await store.undeliverableRecords(limit: Int.max) where wanted?.contains(record.id) ?? true {
                var plan = self.plan(for: record, now: now)
                plan.shareAllowanceAmongFollowUps()
                let written = try await store.deliver(plan, now: now, resolving: [record.id])
                report.records += 1
                report.stillUndeliverable += plan.undeliverable
                report.stillUndeliverable += written.undelivered.map {
                    UndeliverableDelivery(requestID: record.requestID, destination: $0.queue, reason: "the queue cannot take it", record: record.record)
                }
            }
        }
        if all || httpIDs != nil {
            report.httpDeliveries = try await store.redeliverHTTPDeliveries(all ? nil : httpIDs, now: now)
        }
        return report
    }

    /// Where the record goes: its destination as kept (a queue name, an ARN or a URL).
    func plan(for record: UndeliverableRecord, now: Int64) -> DeliveryPlan {
        let target = record.destination.hasPrefix("arn:") || record.destination.contains("://")
            ? record.destination : "arn:aws:sqs:\(router.region):\(router.account):\(record.destination)"
        let origin = MessageRouter.Origin(requestID: record.requestID, record: record.record)
        var plan = DeliveryPlan()
        if let busName = MessagingARN.eventBusName(target) {
            let busARN = MessagingARN.eventBus(busName, region: router.region, account: router.account)
            guard let bus = router.directory.eventBus(arn: busARN) else {
                plan.undeliverable.append(UndeliverableDelivery(requestID: record.requestID, destination: target,
                                                                reason: "the event bus \(busARN) does not exist", record: record.record))
                return plan
            }
            let context = (try? JSONValue.parse(record.record))?["requestContext"]
            let condition = context?["condition"]?.stringValue.flatMap(InvocationCondition.init(rawValue:)) ?? .success
            let event = BusEvent.invocationResult(id: RequestID.makeTimeOrdered(milliseconds: now), record: record.record, condition: condition,
                                                  busARN: busARN, functionARN: context?["functionArn"]?.stringValue ?? "",
                                                  account: router.account, region: router.region, timeMilliseconds: now)
            router.put(event, on: bus, origin: origin, now: now, into: &plan)
        } else {
            router.send(record.record, to: target, origin: origin, hops: 0, now: now, into: &plan)
        }
        return plan
    }
}
