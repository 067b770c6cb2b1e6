import Synchronization

/// At most `limit` holders at once per key; others wait their turn (first come, first served).
final class SlotLimiter: Sendable {
    private let state = Mutex<[String: (held: Int, waiters: [CheckedContinuation<Void, Never>])]>([:])

    func acquire(_ key: String, limit: Int) async {
        let acquired = state.withLock { state in
            var entry = state[key] ?? (0, [])
            defer { state[key] = entry }
            if entry.held < max(1, limit) {
                entry.held += 1
                return true
            }
            return false
        }
        if acquired { return }
        await withCheckedContinuation { continuation in
            let granted = state.withLock { state in
                var entry = state[key] ?? (0, [])
                defer { state[key] = entry }
                // A slot may have been released between the two locks.
                if entry.held < max(1, limit) {
                    entry.held += 1
                    return true
                }
                entry.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    func release(_ key: String) {
        let next: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard var entry = state[key] else { return nil }
            defer { state[key] = entry }
            if !entry.waiters.isEmpty { return entry.waiters.removeFirst() }  // the slot passes on
            entry.held -= 1
            return nil
        }
        next?.resume()
    }
}
