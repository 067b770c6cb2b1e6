/// Where a function's handler runs.
public enum Isolation: String, Sendable, Hashable, CaseIterable {
    /// Pre-started worker processes, one instance each: a crash, an exit or a memory-limit kill ends
    /// only that worker, which is replaced; a timeout kills it. The default.
    case process
    /// Host threads: fastest, for trusted handlers only. A crash ends the host; a timeout can only
    /// raise the cancellation flag and abandon the thread.
    case thread
}
