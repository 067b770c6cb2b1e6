import ChuteCore
import Synchronization

/// A batch of invocations handed to one worker thread, and the reports it produces.
final class ThreadJob: @unchecked Sendable {
    let invocations: [Invocation]
    let completion = Completion<[InvokeResult]>()
    private let progress: Mutex<(next: Int, results: [InvokeResult?])>

    init(_ invocations: [Invocation]) {
        self.invocations = invocations
        progress = Mutex((0, Array(repeating: nil, count: invocations.count)))
    }

    /// The index of the invocation to run next, nil when all have a result.
    var nextIndex: Int? {
        progress.withLock { $0.next < invocations.count ? $0.next : nil }
    }

    func record(_ result: InvokeResult, at index: Int) {
        progress.withLock { progress in
            progress.results[index] = result
            progress.next = max(progress.next, index + 1)
        }
    }

    /// Gives every invocation without a result the same result (init failures, throttles).
    func recordRemaining(_ make: (Invocation) -> InvokeResult) {
        progress.withLock { progress in
            for index in progress.next..<invocations.count { progress.results[index] = make(invocations[index]) }
            progress.next = invocations.count
        }
    }

    func finish() {
        let results = progress.withLock { $0.results.map { $0! } }
        completion.complete(results)
    }
}
