import CChuteSys
import Synchronization

/// A one-shot result that a caller first spins on, then awaits.
///
/// Crossing to an idle core costs 25-50 µs on this kind of machine, far more than a trivial
/// handler runs. So a caller spins for a short budget, and only if the result has not come by
/// then does it suspend; the completer resumes it from whatever thread it runs on. Several tasks
/// may wait for the same value (a worker's start-up is awaited by the task that started it and by
/// the caller that claimed it).
final class Completion<Value: Sendable>: @unchecked Sendable {
    private let isDone = Atomic<Bool>(false)
    private let state = Mutex<(value: Value?, waiters: [CheckedContinuation<Value, Never>])>((nil, []))

    /// Delivers the value. Returns false if a value was already delivered.
    @discardableResult
    func complete(_ value: Value) -> Bool {
        let waiters: [CheckedContinuation<Value, Never>]? = state.withLock { state in
            guard state.value == nil else { return nil }
            state.value = value
            defer { state.waiters = [] }
            return state.waiters
        }
        guard let waiters else { return false }
        isDone.store(true, ordering: .releasing)
        for waiter in waiters { waiter.resume(returning: value) }
        return true
    }

    var isCompleted: Bool { isDone.load(ordering: .acquiring) }

    /// Spins up to `spinNanoseconds`, calling `poll` between checks (it may make progress itself,
    /// e.g. read a socket), and runs `handOver` once if the value has still not come; then waits.
    func wait(spinNanoseconds: Int64, poll: () -> Void = {}, handOver: () -> Void = {}) async -> Value {
        if spinNanoseconds > 0 {
            let until = chute_monotonic_ns() + spinNanoseconds
            var rounds = 0
            while !isDone.load(ordering: .acquiring) {
                poll()
                rounds += 1
                if rounds & 15 == 0 && chute_monotonic_ns() >= until { break }
            }
        }
        if let value = state.withLock({ $0.value }) { return value }
        handOver()
        return await withCheckedContinuation { continuation in
            let ready: Value? = state.withLock { state in
                if let value = state.value { return value }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
