/// Why a worker process ended, decoded from its wait status.
public enum ExitReason: Sendable, Hashable {
    case exited(status: Int32)
    case signaled(signal: Int32, coreDumped: Bool)

    /// The text after "Error: ", as Lambda's runtime (written in Go) prints it.
    public var lambdaText: String {
        switch self {
        case .exited(0):
            "Runtime exited without providing a reason"
        case .exited(let status):
            "Runtime exited with error: exit status \(status)"
        case .signaled(let signal, let coreDumped):
            "Runtime exited with error: signal: \(Self.signalName(signal))\(coreDumped ? " (core dumped)" : "")"
        }
    }

    /// Go's names for signals (`syscall.Signal.String()` on Linux).
    public static func signalName(_ signal: Int32) -> String {
        switch signal {
        case 1: "hangup"
        case 2: "interrupt"
        case 3: "quit"
        case 4: "illegal instruction"
        case 5: "trace/breakpoint trap"
        case 6: "aborted"
        case 7: "bus error"
        case 8: "floating point exception"
        case 9: "killed"
        case 10: "user defined signal 1"
        case 11: "segmentation fault"
        case 12: "user defined signal 2"
        case 13: "broken pipe"
        case 14: "alarm clock"
        case 15: "terminated"
        case 24: "CPU time limit exceeded"
        case 25: "file size limit exceeded"
        case 31: "bad system call"
        default: "signal \(signal)"
        }
    }
}
