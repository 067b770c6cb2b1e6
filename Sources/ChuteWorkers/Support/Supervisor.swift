import CChuteSys
import Glibc
import Synchronization

/// One thread that watches every worker: readiness of their file descriptors (epoll) and timers
/// (deadlines, memory samples). Callbacks run on this thread and must not block.
///
/// The hot path never touches it: a caller whose invocation finishes within its spin budget
/// neither registers a timer nor wakes this thread. Only invocations that outlast the spin are
/// handed over, which keeps the per-call cost to a few atomics (see BENCHMARKS.md).
public final class Supervisor: @unchecked Sendable {
    public typealias Callback = @Sendable () -> Void
    public typealias ReadinessCallback = @Sendable (_ events: UInt32) -> Void

    /// The process-wide supervisor, started on first use.
    public static let shared = Supervisor()

    private let epollFD: Int32
    private let wakeFD: Int32
    private let state = Mutex(State())
    private var thread: pthread_t?

    private struct State {
        var handlers: [UInt64: ReadinessCallback] = [:]
        var nextKey: UInt64 = 1
        var timers = TimerHeap()
        /// When the thread will next wake on its own (Int64.max: not before an fd or a wake).
        var plannedWake: Int64 = .max
    }

    public init() {
        epollFD = chute_epoll_create()
        wakeFD = chute_eventfd()
        precondition(epollFD >= 0 && wakeFD >= 0, "cannot create the supervisor's epoll or eventfd: errno \(errno)")
        _ = chute_epoll_ctl(epollFD, CHUTE_EPOLL_CTL_ADD, wakeFD, CHUTE_EPOLLIN, 0)
        let box = Unmanaged.passRetained(self).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        var handle = pthread_t()
        let status = pthread_create(&handle, &attributes, { raw in
            let supervisor = Unmanaged<Supervisor>.fromOpaque(raw!).takeRetainedValue()
            supervisor.loop()
            return nil
        }, box)
        precondition(status == 0, "cannot start the supervisor thread: \(status)")
        pthread_detach(handle)
        thread = handle
    }

    // MARK: File descriptors

    /// Watches `fd` for `events` (EPOLLIN, EPOLLONESHOT, ...). Returns a key for `rearm`/`remove`.
    public func watch(fd: Int32, events: UInt32, _ callback: @escaping ReadinessCallback) -> UInt64 {
        let key = state.withLock { state in
            let key = state.nextKey
            state.nextKey += 1
            state.handlers[key] = callback
            return key
        }
        if chute_epoll_ctl(epollFD, CHUTE_EPOLL_CTL_ADD, fd, events, key) != 0 {
            _ = state.withLock { $0.handlers.removeValue(forKey: key) }
        }
        return key
    }

    /// Re-arms a one-shot watch.
    public func rearm(fd: Int32, key: UInt64, events: UInt32) {
        _ = chute_epoll_ctl(epollFD, CHUTE_EPOLL_CTL_MOD, fd, events, key)
    }

    /// Stops watching `fd`. Call before closing it.
    public func remove(fd: Int32, key: UInt64) {
        _ = chute_epoll_ctl(epollFD, CHUTE_EPOLL_CTL_DEL, fd, 0, 0)
        _ = state.withLock { $0.handlers.removeValue(forKey: key) }
    }

    // MARK: Timers

    /// Runs `callback` on the supervisor thread at `deadline` (CLOCK_MONOTONIC nanoseconds).
    @discardableResult
    public func schedule(at deadline: Int64, _ callback: @escaping Callback) -> TimerToken {
        let token = TimerToken()
        let mustWake = state.withLock { state in
            state.timers.push(deadline: deadline, token: token, callback: callback)
            if deadline < state.plannedWake {
                state.plannedWake = deadline
                return true
            }
            return false
        }
        if mustWake { wake() }
        return token
    }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    // MARK: Loop

    private func loop() {
        var datas = [UInt64](repeating: 0, count: 64)
        var events = [UInt32](repeating: 0, count: 64)
        while true {
            let timeout: Int32 = state.withLock { state in
                guard let next = state.timers.nextDeadline else {
                    state.plannedWake = .max
                    return -1
                }
                state.plannedWake = next
                let left = next - chute_monotonic_ns()
                return left <= 0 ? 0 : Int32(clamping: (left + 999_999) / 1_000_000)
            }
            let count = chute_epoll_wait(epollFD, &datas, &events, 64, timeout)
            for index in 0..<max(0, Int(count)) {
                let key = datas[index]
                if key == 0 {
                    var drained: UInt64 = 0
                    _ = read(wakeFD, &drained, 8)
                    continue
                }
                if let handler = state.withLock({ $0.handlers[key] }) { handler(events[index]) }
            }
            runDueTimers()
        }
    }

    private func runDueTimers() {
        let now = chute_monotonic_ns()
        while let callback = state.withLock({ $0.timers.popDue(now: now) }) {
            callback()
        }
    }
}

/// Cancels a scheduled timer (lazily: the entry stays in the heap until due, then is skipped).
public final class TimerToken: Sendable {
    let cancelled = Atomic<Bool>(false)
    public func cancel() { cancelled.store(true, ordering: .relaxed) }
}

/// A binary min-heap of timers.
struct TimerHeap {
    private var entries: [(deadline: Int64, sequence: UInt64, token: TimerToken, callback: Supervisor.Callback)] = []
    private var sequence: UInt64 = 0

    var nextDeadline: Int64? {
        entries.first?.deadline
    }

    mutating func push(deadline: Int64, token: TimerToken, callback: @escaping Supervisor.Callback) {
        sequence += 1
        entries.append((deadline, sequence, token, callback))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest due, uncancelled callback; skips cancelled ones.
    mutating func popDue(now: Int64) -> Supervisor.Callback? {
        while let first = entries.first, first.deadline <= now {
            let entry = removeFirst()
            if !entry.token.cancelled.load(ordering: .relaxed) { return entry.callback }
        }
        return nil
    }

    private mutating func removeFirst() -> (deadline: Int64, sequence: UInt64, token: TimerToken, callback: Supervisor.Callback) {
        let first = entries[0]
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < entries.count && less(left, smallest) { smallest = left }
                if right < entries.count && less(right, smallest) { smallest = right }
                if smallest == parent { break }
                entries.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        entries[a].deadline < entries[b].deadline
            || (entries[a].deadline == entries[b].deadline && entries[a].sequence < entries[b].sequence)
    }
}
