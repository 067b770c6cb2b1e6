import Dispatch
import Synchronization

/// A host's connections to PostgreSQL, each on a serial queue of its own (libpq blocks).
///
/// Work waits in one list; an idle connection takes everything waiting (up to `groupLimit`) and
/// commits it in one transaction (group commit, as the SQLite store does): a commit costs the
/// server one WAL flush, whatever the group holds. If the group fails, each item runs alone, so
/// one bad item fails only its own caller; serialization failures and deadlocks (which another
/// host's transaction can cause) are retried, and a connection the server dropped is reopened.
final class PostgresPool: @unchecked Sendable {
    private let connections: [PostgresConnection]
    private let queues: [DispatchQueue]
    private let state: Mutex<(work: [Work], idle: [Int])>
    private let groupLimit = 64

    private typealias Work = GroupCommitWork<PostgresConnection>

    init(_ target: PostgresTarget) throws(StoreError) {
        var connections: [PostgresConnection] = []
        for _ in 0..<target.connections { connections.append(try PostgresConnection(target)) }
        self.connections = connections
        queues = connections.indices.map { DispatchQueue(label: "chute.postgres-\($0)") }
        state = Mutex(([], Array(connections.indices)))
    }

    /// Runs `body` on one connection before any other use of it (schema creation).
    func setUp(_ body: (PostgresConnection) throws(StoreError) -> Void) throws(StoreError) {
        try body(connections[0])
    }

    func perform<T: Sendable>(durable: Bool = true, _ body: @escaping @Sendable (PostgresConnection) throws(StoreError) -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let work = Work(durable: durable, body, resuming: continuation)
            let idle: Int? = state.withLock { state in
                state.work.append(work)
                return state.idle.popLast()
            }
            if let idle { queues[idle].async { self.drain(idle) } }
        }
    }

    private func drain(_ index: Int) {
        let connection = connections[index]
        while true {
            let group: [Work] = state.withLock { state in
                guard !state.work.isEmpty else {
                    state.idle.append(index)
                    return []
                }
                let taken = Array(state.work.prefix(groupLimit))
                state.work.removeFirst(taken.count)
                return taken
            }
            guard !group.isEmpty else { return }
            do {
                try attempt(group, on: connection)
                group.forEach { $0.done(.success(())) }
            } catch {
                guard group.count > 1 else {
                    group[0].done(.failure(error))
                    continue
                }
                for work in group {
                    do {
                        try attempt([work], on: connection)
                        work.done(.success(()))
                    } catch {
                        work.done(.failure(error))
                    }
                }
            }
        }
    }

    /// Runs the group in one transaction: again after a serialization failure or deadlock (up to
    /// five times), and once more on a fresh connection if the server dropped this one.
    private func attempt(_ group: [Work], on connection: PostgresConnection) throws(StoreError) {
        var tries = 0
        while true {
            tries += 1
            do {
                if connection.isBroken { try connection.reconnect() }
                try connection.transaction(durable: group.contains(where: \.durable)) { () throws(StoreError) in
                    for work in group { try work.run(connection) }
                }
                return
            } catch {
                let retryable = error.sqlState == "40001" || error.sqlState == "40P01" || (connection.isBroken && tries == 1)
                guard retryable, tries < 5 else { throw error }
            }
        }
    }
}
