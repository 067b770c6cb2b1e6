import Synchronization

/// How many worker processes the whole host may run, across every function. Each function caps
/// its own instances (`concurrency`, up to 1000), but many functions at their caps would use up
/// the host's descriptors (two per instance) and memory; past this budget a new instance is a
/// throttle, which the pipelines re-queue without using a retry.
public final class InstanceBudget: Sendable, Hashable {
    public static func == (lhs: InstanceBudget, rhs: InstanceBudget) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }

    /// The budget every process pool draws from; the host sets its limit at start.
    public static let shared = InstanceBudget()

    private let state = Mutex((limit: Int.max, used: 0))

    public init(limit: Int = .max) {
        state.withLock { $0.limit = limit }
    }

    public var limit: Int {
        get { state.withLock { $0.limit } }
        set { state.withLock { $0.limit = max(1, newValue) } }
    }

    public var used: Int { state.withLock { $0.used } }

    /// Takes one instance; false when the host runs as many as it may.
    func take() -> Bool {
        state.withLock { state in
            guard state.used < state.limit else { return false }
            state.used += 1
            return true
        }
    }

    func give() {
        state.withLock { $0.used = max(0, $0.used - 1) }
    }
}
