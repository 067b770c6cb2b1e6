import Synchronization

/// Lets a loop sleep until it is woken or a timeout passes, whichever comes first. A wake that
/// comes while the loop is busy is remembered, so the next check or sleep sees it at once.
public final class WakeSignal: Sendable {
    private let waiter = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let requested = Atomic<Bool>(false)

    public init() {}

    public func wake() {
        requested.store(true, ordering: .releasing)
        waiter.withLock { waiter in
            waiter?.resume()
            waiter = nil
        }
    }

    /// Whether a wake came since the last `reset` or sleep.
    public var isRequested: Bool { requested.load(ordering: .acquiring) }

    public func reset() { requested.store(false, ordering: .releasing) }

    /// Returns when woken, or after `milliseconds`.
    public func sleep(milliseconds: Int64) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                await withCheckedContinuation { continuation in
                    let resumeNow = waiter.withLock { waiter -> Bool in
                        if requested.load(ordering: .acquiring) { return true }
                        waiter?.resume()
                        waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: .milliseconds(milliseconds)) }
            await group.next()
            wake()  // release the other child
            group.cancelAll()
        }
        reset()
    }
}
