import Synchronization

/// One caller's work in a group transaction (both stores commit whatever waits together): `run`
/// writes inside the transaction, `done` resumes the caller once the group committed or failed.
/// `run` must not resume anything itself: a failed group runs each of its items again alone.
struct GroupCommitWork<Connection>: Sendable {
    let run: @Sendable (Connection) throws(StoreError) -> Void
    let done: @Sendable (Result<Void, StoreError>) -> Void
    /// False for writes that a crash may lose (leases, which expire or are released anyway): a
    /// group of only such work commits without waiting for the disk.
    let durable: Bool

    /// Work that runs `body` and hands its value to `continuation` once the group committed.
    init<T: Sendable>(durable: Bool, _ body: @escaping @Sendable (Connection) throws(StoreError) -> T,
                      resuming continuation: CheckedContinuation<T, any Error>) {
        let result = ResultBox<T>()
        run = { connection throws(StoreError) in
            let value = try body(connection)
            result.value.withLock { $0 = value }
        }
        done = { outcome in
            switch outcome {
            case .success: continuation.resume(returning: result.value.withLock { $0! })
            case .failure(let error): continuation.resume(throwing: error)
            }
        }
        self.durable = durable
    }

    private final class ResultBox<T: Sendable>: Sendable {
        let value = Mutex<T?>(nil)
    }
}
