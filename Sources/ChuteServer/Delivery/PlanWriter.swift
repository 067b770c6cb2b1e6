import ChuteAsync
import ChuteStore

/// Writes what a publish or a put produced in one transaction, then wakes whoever runs it: the
/// dispatcher for events to functions, the delivery service for POSTs.
struct PlanWriter: Sendable {
    let store: any HTTPOutboxStore
    let dispatcher: AsyncDispatcher
    let wakeHTTPDelivery: @Sendable () -> Void

    func write(_ plan: DeliveryPlan, now: Int64) async throws {
        guard !plan.isEmpty else { return }
        var plan = plan
        plan.shareAllowanceAmongFollowUps()
        try await store.deliver(plan, now: now)
        if !plan.followUps.isEmpty { dispatcher.storedEventsToClaim() }
        if !plan.httpDeliveries.isEmpty { wakeHTTPDelivery() }
    }
}
