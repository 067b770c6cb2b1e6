import CChuteSys
import ChuteABI
import ChuteCore
import Glibc

/// One instance in its own process: runs `chute_init`, then serves invoke frames until told to
/// stop or until the host goes away.
struct WorkerChild {
    let channelFD: Int32
    let outputFD: Int32
    let settings: WorkerSettings
    let module: HandlerModule

    func run() -> Never {
        chute_reset_signals()
        chute_die_with_parent()
        // The handler's stdout and stderr go to the host, which tags each line with the request id.
        dup2(outputFD, 1)
        dup2(outputFD, 2)
        if outputFD > 2 { close(outputFD) }
        chute_stdout_line_buffered()
        limitResources()
        for (key, value) in settings.environment { setenv(key, value, 1) }

        let channel = ChildChannel(fd: channelFD)
        let recorder = CallRecorder(function: settings.identity, responseLimit: settings.maxResponseBytes, logSink: channel)
        let instance = HandlerInstance(module: module)
        let initDeadline = chute_monotonic_ns() + settings.initTimeoutNanoseconds
        let initError = instance.initialize(config: settings.initConfig, recorder: recorder, deadlineNanoseconds: initDeadline,
                                            deadlineWallMilliseconds: chute_wall_ms() + settings.initTimeoutNanoseconds / 1_000_000)
        fflush(nil)
        if let initError {
            channel.send(.initFailed) { OutcomeWire.writeError(initError, into: &$0) }
            channel.flush()
            _exit(0)
        }
        channel.send(.initialized) { $0.i64(chute_peak_rss_bytes()) }
        channel.flush()
        serve(channel: channel, recorder: recorder, instance: instance)
    }

    private func limitResources() {
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
        // A hard cap on address space stops runaway allocation faster than the host's RSS checks;
        // twice the limit above the current size leaves room for mappings that are never touched.
        let current = chute_self_virtual_bytes()
        if current > 0 {
            let cap = rlim_t(current) + rlim_t(settings.identity.memoryMB) * 2 * 1_048_576
            var limit = rlimit(rlim_cur: cap, rlim_max: cap)
            setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit)
        }
    }

    private func serve(channel: ChildChannel, recorder: CallRecorder, instance: HandlerInstance) -> Never {
        var input = FrameBuffer()
        let clearRefs = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC)
        // Each report carries the peak resident size during its call. Resetting the kernel's
        // high-water mark costs a syscall (~1 µs here), so it is reset only after a call that
        // raised it; otherwise the mark is at most what the previous call freed above the
        // current size, an overstatement bounded by memory that was really in use.
        var highWater = chute_peak_rss_bytes()
        var markRaised = true
        while true {
            // Run every complete frame. A response is sent before the next handler call starts:
            // the host times each invocation from the previous response, and a response still
            // buffered here would die with the process if the next call crashes or is killed.
            while true {
                let step = input.next { kind, payload in
                    var reader = WireReader(payload)
                    switch kind {
                    case .invoke:
                        let attempt = Int(reader.u32())
                        let requestID = reader.string()
                        let event = reader.rest()
                        channel.flush()
                        if markRaised { _ = chute_reset_peak_rss(clearRefs) }
                        let start = chute_monotonic_ns()
                        let deadline = start + settings.timeoutNanoseconds
                        let outcome = instance.invoke(Invocation(requestID: requestID, attempt: attempt, payload: event), recorder: recorder,
                                                      deadlineNanoseconds: deadline,
                                                      deadlineWallMilliseconds: chute_wall_ms() + settings.timeoutNanoseconds / 1_000_000)
                        fflush(nil)
                        let end = chute_monotonic_ns()
                        let peak = chute_peak_rss_bytes()
                        markRaised = peak > highWater
                        highWater = peak
                        channel.appendResponse(outcome, duration: end - start, peak: peak)
                    case .stop:
                        channel.flush()
                        instance.destroy()
                        fflush(nil)
                        _exit(0)
                    default:
                        break
                    }
                }
                guard step == .consumed else { break }
            }
            channel.flush()
            // Spin briefly for the next request (a wake-up across cores costs 25-50 µs), then block.
            let until = chute_monotonic_ns() + settings.spinNanoseconds
            var count = input.fill(from: channelFD)
            while count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && chute_monotonic_ns() < until {
                count = input.fill(from: channelFD)
            }
            while count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                _ = FileDescriptorIO.waitReadable(channelFD, timeoutMilliseconds: -1)
                count = input.fill(from: channelFD)
            }
            if count <= 0 { _exit(0) }  // the host closed the channel
        }
    }
}

/// The child's side of its channel: buffered responses, immediate log lines.
final class ChildChannel: HandlerLogSink, @unchecked Sendable {
    let fd: Int32
    private var writer = WireWriter()
    private var lock = pthread_mutex_t()

    init(fd: Int32) {
        self.fd = fd
        pthread_mutex_init(&lock, nil)
    }

    func send(_ kind: FrameKind, _ body: (inout WireWriter) -> Void) {
        pthread_mutex_lock(&lock)
        writer.frame(kind, body)
        pthread_mutex_unlock(&lock)
    }

    func appendResponse(_ outcome: InvocationOutcome, duration: Int64, peak: Int64) {
        pthread_mutex_lock(&lock)
        OutcomeWire.write(outcome, durationNanoseconds: duration, peakMemoryBytes: peak, into: &writer)
        pthread_mutex_unlock(&lock)
    }

    func flush() {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard !writer.bytes.isEmpty else { return }
        if !FileDescriptorIO.writeAll(fd, writer.bytes) { _exit(0) }
        writer.bytes.removeAll(keepingCapacity: true)
    }

    /// Log lines go out at once (after any buffered responses, to keep the order), so the last
    /// lines before a crash reach the host.
    func handlerLog(requestID: String, level: Int32, line: UnsafeRawBufferPointer) {
        pthread_mutex_lock(&lock)
        writer.frame(.log) { $0.u8(UInt8(clamping: max(0, level))); $0.blob(line) }
        pthread_mutex_unlock(&lock)
        flush()
    }
}
