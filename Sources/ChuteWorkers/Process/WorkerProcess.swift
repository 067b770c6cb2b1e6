import CChuteSys
import ChuteCore
import Glibc
import Synchronization

/// The host's handle on one worker process (one instance): its channel, its output pipe, and the
/// invocations sent to it that have no response yet, oldest first.
///
/// Whoever holds `io` may read the channel: the caller while it spins, the supervisor after the
/// caller handed over. The head of `pending` started when the previous response arrived (or when
/// it was sent), which is how the host times each pipelined invocation.
final class WorkerProcess: @unchecked Sendable {
    enum Phase { case starting, ready, exiting, dead }
    enum KillReason { case timeout, memory(Int64), initTimeout, shutdown }
    enum Startup: Sendable { case ready, initFailed(FunctionError), exited(ExitReason), initTimedOut, spawnFailed(String) }

    struct Pending {
        let job: ProcessJob
        let index: Int
    }

    struct IO {
        var phase: Phase = .starting
        var pid: pid_t = 0
        var buffer = FrameBuffer()
        var pending: [Pending] = []
        var headStart: Int64 = 0
        var tail: LogTail
        var partialOutput: [UInt8] = []
        var killReason: KillReason?
        var channelArmed = false
        /// The child reported the end of `chute_init` (success or failure).
        var initialized = false
    }

    let id: UInt64
    let channelFD: Int32
    let outputFD: Int32
    let startup = Completion<Startup>()
    /// Read buffer for the output pipe; used only under `io`.
    let outputScratch = ScratchBuffer(capacity: 16 * 1024)
    let io: Mutex<IO>
    var channelKey: UInt64 = 0
    var outputKey: UInt64 = 0

    init(id: UInt64, channelFD: Int32, outputFD: Int32, tailLimit: Int) {
        self.id = id
        self.channelFD = channelFD
        self.outputFD = outputFD
        io = Mutex(IO(tail: LogTail(limit: tailLimit)))
    }

    var pid: pid_t { io.withLock { $0.pid } }

    /// The descriptors close only when nothing refers to the worker any more: a sender that
    /// claimed it just before it died must never write into a descriptor number reused since.
    deinit {
        if channelFD >= 0 { Glibc.close(channelFD) }
        if outputFD >= 0 { Glibc.close(outputFD) }
    }
}

/// A batch of invocations run on worker processes, and their results.
final class ProcessJob: @unchecked Sendable {
    let invocations: [Invocation]
    let completion = Completion<[InvokeResult]>()
    private let results: Mutex<(values: [InvokeResult?], remaining: Int)>

    init(_ invocations: [Invocation]) {
        self.invocations = invocations
        results = Mutex((Array(repeating: nil, count: invocations.count), invocations.count))
    }

    /// Records a result; returns true when it was the last one missing.
    func record(_ result: InvokeResult, at index: Int) -> Bool {
        results.withLock { state in
            if state.values[index] == nil { state.remaining -= 1 }
            state.values[index] = result
            return state.remaining == 0
        }
    }

    /// Indices still without a result.
    var unfinished: [Int] {
        results.withLock { state in state.values.indices.filter { state.values[$0] == nil } }
    }

    func finish() {
        completion.complete(results.withLock { $0.values.map { $0! } })
    }
}
