/// Runs async changes one at a time, in order of arrival: a change that reads, edits and saves a
/// definition must not interleave with another one to the same definitions across its awaits.
actor SerialChanges {
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ change: @Sendable () async throws -> T) async throws -> T {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
        defer {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
        return try await change()
    }
}
