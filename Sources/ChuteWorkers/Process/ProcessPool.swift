import CChuteSys
import ChuteABI
import ChuteCore
import Glibc
import Logging
import Synchronization

/// Process isolation (the default): every instance is a worker process forked by the function's
/// zygote. A crash, an exit or a memory-limit kill ends only that worker, whose invocation gets an
/// Unhandled `Runtime.ExitError`, and a replacement is forked at once; a timeout kills the worker
/// (`Sandbox.Timedout`). The host and every other invocation carry on.
final class ProcessPool: FunctionPool, @unchecked Sendable {
    let configuration: FunctionConfiguration
    let moduleInfo: ModuleInfo
    let tuning: PoolTuning
    private var instances: InstanceBudget { tuning.instances }
    let supervisor: Supervisor
    let log: InvocationLog
    private let settings: WorkerSettings
    private let timeoutNanoseconds: Int64
    private let initTimeoutNanoseconds: Int64
    private let memoryLimitBytes: Int64
    private let state = Mutex(State())

    private struct State {
        var idle: [WorkerProcess] = []
        /// Started ahead of demand (prewarm, replacements) and not yet ready nor claimed.
        var warming: [WorkerProcess] = []
        var workers: [UInt64: WorkerProcess] = [:]
        var byPID: [pid_t: WorkerProcess] = [:]
        var busy: Set<UInt64> = []
        var statistics = PoolStatistics()
        var nextID: UInt64 = 1
        var isShutDown = false
        /// The zygote forking workers; nil while a dead one is being replaced.
        var zygote: ZygoteHandle?
    }

    var statistics: PoolStatistics {
        state.withLock { state in
            var statistics = state.statistics
            statistics.liveInstances = state.workers.count
            statistics.busyInstances = state.busy.count
            statistics.zygoteProcessID = state.zygote?.pid
            return statistics
        }
    }

    static func start(configuration: FunctionConfiguration, logger: Logger, tuning: PoolTuning, supervisor: Supervisor) async throws -> ProcessPool {
        let settings = WorkerSettings(configuration: configuration, tuning: tuning)
        let (zygote, info) = try await ZygoteHandle.start(settings: settings, supervisor: supervisor)
        let pool = ProcessPool(configuration: configuration, moduleInfo: info, logger: logger, tuning: tuning, supervisor: supervisor, settings: settings)
        await pool.adopt(zygote)
        return pool
    }

    private init(configuration: FunctionConfiguration, moduleInfo: ModuleInfo, logger: Logger, tuning: PoolTuning, supervisor: Supervisor, settings: WorkerSettings) {
        self.configuration = configuration
        self.moduleInfo = moduleInfo
        self.tuning = tuning
        self.supervisor = supervisor
        self.settings = settings
        self.log = InvocationLog(logger: logger, tailLimitBytes: tuning.logTailBytes)
        timeoutNanoseconds = Int64(configuration.timeoutSeconds * 1e9)
        initTimeoutNanoseconds = Int64(configuration.initTimeoutSeconds * 1e9)
        memoryLimitBytes = Int64(configuration.memoryMB) * 1_048_576
    }

    // MARK: Invoking

    func invoke(batch: [Invocation]) async -> [InvokeResult] {
        guard !batch.isEmpty else { return [] }
        let job = ProcessJob(batch)
        guard let worker = await dispatch(job, indices: Array(batch.indices)) else {
            return await job.completion.wait(spinNanoseconds: 0)
        }
        return await job.completion.wait(
            spinNanoseconds: tuning.callerSpinNanoseconds, poll: { pump(worker) }, handOver: { handOver(worker, job: job) })
    }

    /// Finds an instance for `indices` of `job` and sends them. Returns the worker, or nil when the
    /// job got its results another way (throttle, init failure).
    private func dispatch(_ job: ProcessJob, indices: [Int]) async -> WorkerProcess? {
        while true {
            let worker: WorkerProcess
            switch acquire() {
            case .failure(let throttle):
                finish(job, indices: indices) { _ in .throttled(throttle) }
                return nil
            case .success((let acquired, let isNew)):
                worker = acquired
                if isNew {
                    let startup = await worker.startup.wait(spinNanoseconds: 0)
                    guard case .ready = startup else {
                        finish(job, indices: indices) { invocation in
                            .completed(InvocationReport(requestID: invocation.requestID, attempt: invocation.attempt,
                                                        outcome: .unhandled(self.initError(startup, requestID: invocation.requestID)),
                                                        durationNanoseconds: 0, logTail: worker.io.withLock { $0.tail.take() }))
                        }
                        return nil
                    }
                }
            }
            // An idle worker can die between being claimed and being sent to (its zygote was
            // killed); then nothing was sent, and another instance takes the work.
            if send(job, indices: indices, to: worker) { return worker }
        }
    }

    private func finish(_ job: ProcessJob, indices: [Int], _ make: (Invocation) -> InvokeResult) {
        var last = false
        for index in indices { last = job.record(make(job.invocations[index]), at: index) || last }
        if last { job.finish() }
    }

    /// Queues the invocations on `worker` and writes them. Returns false, sending nothing, if the
    /// worker was already finalized; once queued, the worker's exit accounts for them.
    private func send(_ job: ProcessJob, indices: [Int], to worker: WorkerProcess) -> Bool {
        var writer = WireWriter()
        for index in indices {
            let invocation = job.invocations[index]
            writer.frame(.invoke) { w in
                w.u32(UInt32(clamping: invocation.attempt))
                w.string(invocation.requestID)
                w.rest(invocation.payload)
            }
        }
        let queued = worker.io.withLock { io in
            guard io.phase != .dead else { return false }
            if io.pending.isEmpty { io.headStart = chute_monotonic_ns() }
            io.pending.append(contentsOf: indices.map { WorkerProcess.Pending(job: job, index: $0) })
            return true
        }
        guard queued else { return false }
        // A failed write means the worker died; its exit re-dispatches everything pending. The
        // descriptor stays open until the worker object goes away, so it is never another's.
        _ = FileDescriptorIO.writeAll(worker.channelFD, writer.bytes)
        return true
    }

    private func acquire() -> Result<(WorkerProcess, Bool), Throttle> {
        let decision: Result<(WorkerProcess?, NewWorker?), Throttle> = state.withLock { state in
            if state.isShutDown { return .failure(Throttle(reason: .shuttingDown, functionName: configuration.name)) }
            if let worker = state.idle.popLast() {
                markBusy(worker.id, &state)
                return .success((worker, nil))
            }
            // A replacement still starting counts against the limit but is not busy: wait for it
            // rather than throttle.
            if let worker = state.warming.popLast() {
                markBusy(worker.id, &state)
                return .success((nil, NewWorker(worker: worker, childChannelFD: -1, childOutputFD: -1)))
            }
            guard state.zygote != nil else {
                state.statistics.throttles += 1
                return .failure(Throttle(reason: .workersRestarting, functionName: configuration.name))
            }
            guard state.workers.count < configuration.concurrency else {
                state.statistics.throttles += 1
                return .failure(Throttle(reason: .concurrencyLimitReached(limit: configuration.concurrency), functionName: configuration.name))
            }
            guard instances.take() else {
                state.statistics.throttles += 1
                return .failure(Throttle(reason: .hostInstanceLimitReached(limit: instances.limit), functionName: configuration.name))
            }
            return .success((nil, newWorker(&state, busy: true)))
        }
        switch decision {
        case .failure(let throttle): return .failure(throttle)
        case .success((let idle?, _)): return .success((idle, false))
        case .success((_, let new?)):
            if new.childChannelFD >= 0 { launch(new) }
            return .success((new.worker, true))
        case .success((nil, nil)): preconditionFailure("acquire decided nothing")
        }
    }

    private func markBusy(_ id: UInt64, _ state: inout State) {
        state.busy.insert(id)
        state.statistics.peakBusyInstances = max(state.statistics.peakBusyInstances, state.busy.count)
    }

    private func release(_ worker: WorkerProcess) {
        let stop = state.withLock { state in
            state.busy.remove(worker.id)
            guard state.workers[worker.id] != nil else { return false }
            if state.isShutDown { return true }
            state.idle.append(worker)
            return false
        }
        if stop { stopWorker(worker) }
    }

    // MARK: Spawning

    /// Starts one instance ahead of demand, unless enough are alive or starting already.
    private func prewarmOne() async {
        let new: NewWorker? = state.withLock { state in
            guard !state.isShutDown, state.zygote != nil, state.workers.count < configuration.prewarmInstances, instances.take() else { return nil }
            return newWorker(&state, busy: false)
        }
        guard let new else { return }
        if new.childChannelFD >= 0 { launch(new) }
        let worker = new.worker
        let startup = await worker.startup.wait(spinNanoseconds: 0)
        let unclaimed = state.withLock { state in
            guard let index = state.warming.firstIndex(where: { $0 === worker }) else { return false }
            state.warming.remove(at: index)
            return true
        }
        if unclaimed, case .ready = startup { release(worker) }
    }

    /// A worker registered in the pool's state whose process is not forked yet.
    private struct NewWorker {
        let worker: WorkerProcess
        /// The child's ends, handed to the zygote by `launch`; -1 when the pool's end failed.
        let childChannelFD: Int32
        let childOutputFD: Int32
    }

    /// Registers a new instance under the state lock, so that the concurrency limit and the
    /// warming list never see an instance half-made. Busy: the caller claims it; otherwise it
    /// waits in `warming` until a caller claims it or it is ready.
    private func newWorker(_ state: inout State, busy: Bool) -> NewWorker {
        let id = state.nextID
        state.nextID += 1
        var channel: [Int32] = [-1, -1]
        var output: [Int32] = [-1, -1]
        let socketOK = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &channel) == 0
        let pipeOK = socketOK && chute_pipe_cloexec(&output) == 0
        guard socketOK, pipeOK else {
            let reason = String(cString: strerror(errno))
            for fd in channel + output where fd >= 0 { Glibc.close(fd) }
            instances.give()
            let worker = WorkerProcess(id: id, channelFD: -1, outputFD: -1, tailLimit: tuning.logTailBytes)
            worker.io.withLock { $0.phase = .dead }
            worker.startup.complete(.spawnFailed("cannot create the worker's channel: \(reason)"))
            return NewWorker(worker: worker, childChannelFD: -1, childOutputFD: -1)
        }
        let worker = WorkerProcess(id: id, channelFD: channel[0], outputFD: output[0], tailLimit: tuning.logTailBytes)
        state.workers[id] = worker
        state.statistics.instancesStarted += 1
        if busy { markBusy(id, &state) } else { state.warming.append(worker) }
        return NewWorker(worker: worker, childChannelFD: channel[1], childOutputFD: output[1])
    }

    /// Watches the new worker's channel and output, and asks the zygote to fork it. It reports
    /// `startup` once `chute_init` finished (or failed).
    private func launch(_ new: NewWorker) {
        let worker = new.worker
        let channel = [worker.channelFD, new.childChannelFD]
        let output = [worker.outputFD, new.childOutputFD]
        _ = chute_set_nonblocking(output[0], 1)
        worker.channelKey = supervisor.watch(fd: channel[0], events: CHUTE_EPOLLIN | CHUTE_EPOLLONESHOT) { [self, worker] _ in
            supervisorRead(worker)
        }
        worker.outputKey = supervisor.watch(fd: output[0], events: CHUTE_EPOLLIN) { [self, worker] _ in
            readOutput(worker)
        }
        let zygote = state.withLock { $0.zygote }
        let spawned: @Sendable (Result<pid_t, PoolError>) -> Void = { [self, worker] result in
            switch result {
            case .success(let pid):
                worker.io.withLock { $0.pid = pid }
                state.withLock { $0.byPID[pid] = worker }
            case .failure(let error):
                worker.io.withLock { $0.phase = .dead }
                supervisor.remove(fd: worker.channelFD, key: worker.channelKey)
                supervisor.remove(fd: worker.outputFD, key: worker.outputKey)
                forget(worker)
                worker.startup.complete(.spawnFailed(error.message))
            }
        }
        if let zygote {
            zygote.spawn(workerID: worker.id, channelFD: channel[1], outputFD: output[1], spawned)
        } else {
            spawned(.failure(PoolError("the worker zygote is restarting")))
        }
        Glibc.close(channel[1])
        Glibc.close(output[1])
        supervisor.schedule(at: chute_monotonic_ns() + initTimeoutNanoseconds) { [self, worker] in
            let pid: pid_t? = worker.io.withLock { io in
                guard io.phase == .starting, io.pid > 0 else { return nil }
                io.killReason = .initTimeout
                return io.pid
            }
            if let pid {
                log.logger.warning("chute_init timed out; killing the worker", metadata: ["function": .string(configuration.name)])
                kill(pid, SIGKILL)
            }
        }
    }

    private func initError(_ startup: WorkerProcess.Startup, requestID: String) -> FunctionError {
        switch startup {
        case .ready: FunctionError(errorType: "Runtime.InitError", errorMessage: "RequestId: \(requestID) Error: no error")
        case .initFailed(let error): RuntimeErrors.initFailed(requestID: requestID, handlerError: error)
        case .exited(let reason): RuntimeErrors.initExited(requestID: requestID, reason: reason)
        case .initTimedOut: RuntimeErrors.initTimedOut(requestID: requestID, timeoutSeconds: configuration.initTimeoutSeconds)
        case .spawnFailed(let reason):
            FunctionError(errorType: "Runtime.InitError", errorMessage: "RequestId: \(requestID) Error: cannot start a worker: \(reason)")
        }
    }

    // MARK: Reading responses

    /// Reads and handles whatever the worker has sent. Any thread; serialized by the worker's lock.
    private func pump(_ worker: WorkerProcess) {
        var effects = Effects()
        worker.io.withLock { io in pumpLocked(worker, &io, &effects) }
        effects.run(pool: self, worker: worker)
    }

    private struct Effects {
        var startup: WorkerProcess.Startup?
        var finished: [ProcessJob] = []
        var release = false
        var logLines: [(String, Int32, String, String)] = []

        func run(pool: ProcessPool, worker: WorkerProcess) {
            for (requestID, level, source, line) in logLines {
                pool.log.emit(requestID: requestID, level: level, source: source, line: line)
            }
            if let startup {
                if case .ready = startup {} else { pool.state.withLock { $0.statistics.initFailures += 1 } }
                worker.startup.complete(startup)
            }
            if release { pool.release(worker) }
            finished.forEach { $0.finish() }
        }
    }

    private func pumpLocked(_ worker: WorkerProcess, _ io: inout WorkerProcess.IO, _ effects: inout Effects) {
        guard io.phase == .starting || io.phase == .ready else { return }
        while true {
            let count = io.buffer.fill(from: worker.channelFD)
            if count == 0 {
                io.phase = .exiting  // the exit status follows from the zygote
                break
            }
            if count < 0 || count < 64 * 1024 { break }
        }
        var frames: [(FrameKind?, [UInt8])] = []
        while io.buffer.next({ kind, payload in frames.append((kind, Array(payload))) }) == .consumed {}
        for (kind, payload) in frames {
            payload.withUnsafeBytes { raw in
                var reader = WireReader(raw)
                handleFrame(kind, &reader, worker, &io, &effects)
            }
        }
        if io.pending.isEmpty && io.phase == .ready && !effects.finished.isEmpty { effects.release = true }
    }

    private func handleFrame(_ kind: FrameKind?, _ reader: inout WireReader, _ worker: WorkerProcess, _ io: inout WorkerProcess.IO, _ effects: inout Effects) {
        switch kind {
        case .initialized:
            io.phase = .ready
            io.initialized = true
            effects.startup = .ready
        case .initFailed:
            io.phase = .exiting
            io.initialized = true  // init ran; its result is reported
            effects.startup = .initFailed(OutcomeWire.readError(&reader))
        case .log:
            let level = Int32(reader.u8())
            let line = String(decoding: reader.blob(), as: UTF8.self)
            let requestID = io.pending.first.map { $0.job.invocations[$0.index].requestID } ?? "init"
            io.tail.append("\(InvocationLog.label(level)) \(line)")
            effects.logLines.append((requestID, level, "log", line))
        case .response:
            guard let decoded = OutcomeWire.read(&reader), !io.pending.isEmpty else { return }
            let head = io.pending.removeFirst()
            drainOutput(worker, &io, &effects)
            let invocation = head.job.invocations[head.index]
            var outcome = decoded.outcome
            var exceeded = false
            if decoded.peakMemoryBytes > memoryLimitBytes && io.killReason == nil {
                // Lambda would have killed the instance mid-call; do the same, deterministically.
                exceeded = true
                outcome = .unhandled(RuntimeErrors.exited(requestID: invocation.requestID, reason: .signaled(signal: SIGKILL, coreDumped: false)))
                io.killReason = .memory(decoded.peakMemoryBytes)
                io.phase = .exiting
                io.tail.append("ERROR memory limit of \(configuration.memoryMB) MB exceeded (peak \(decoded.peakMemoryBytes / 1_048_576) MB)")
                kill(io.pid, SIGKILL)
            }
            if !exceeded && decoded.durationNanoseconds > timeoutNanoseconds {
                outcome = .unhandled(RuntimeErrors.timedOut(requestID: invocation.requestID, timeoutSeconds: configuration.timeoutSeconds))
            }
            let report = InvocationReport(requestID: invocation.requestID, attempt: invocation.attempt, outcome: outcome,
                                          durationNanoseconds: decoded.durationNanoseconds, peakMemoryBytes: decoded.peakMemoryBytes,
                                          logTail: io.tail.take(), memoryLimitExceeded: exceeded)
            io.headStart = chute_monotonic_ns()
            if head.job.record(.completed(report), at: head.index) { effects.finished.append(head.job) }
        default:
            break
        }
    }

    /// Supervisor thread: the channel became readable after a hand-over.
    private func supervisorRead(_ worker: WorkerProcess) {
        pump(worker)
        let rearm = worker.io.withLock { io in
            (io.phase == .starting || (io.phase == .ready && !io.pending.isEmpty))
        }
        if rearm { supervisor.rearm(fd: worker.channelFD, key: worker.channelKey, events: CHUTE_EPOLLIN | CHUTE_EPOLLONESHOT) }
    }

    /// The caller stops spinning: the supervisor reads the channel and watches the deadline.
    private func handOver(_ worker: WorkerProcess, job: ProcessJob) {
        supervisor.rearm(fd: worker.channelFD, key: worker.channelKey, events: CHUTE_EPOLLIN | CHUTE_EPOLLONESHOT)
        let now = chute_monotonic_ns()
        let headStart = worker.io.withLock { $0.headStart }
        supervisor.schedule(at: min(headStart + timeoutNanoseconds, now + tuning.memorySampleNanoseconds)) { [self] in
            watch(worker, job: job)
        }
    }

    /// Supervisor thread: enforce the head invocation's deadline and the memory limit.
    private func watch(_ worker: WorkerProcess, job: ProcessJob) {
        guard !job.completion.isCompleted else { return }
        let now = chute_monotonic_ns()
        var timedOut = false
        let next: Int64? = worker.io.withLock { io in
            guard io.phase == .ready, let head = io.pending.first, head.job === job else {
                return io.phase == .dead ? nil : now + 1_000_000
            }
            let deadline = io.headStart + timeoutNanoseconds
            if now >= deadline {
                io.killReason = .timeout
                io.phase = .exiting
                timedOut = true
                kill(io.pid, SIGKILL)
                return nil
            }
            let resident = chute_process_rss_bytes(io.pid)
            if resident > memoryLimitBytes {
                io.killReason = .memory(resident)
                io.phase = .exiting
                io.tail.append("ERROR memory limit of \(configuration.memoryMB) MB exceeded (resident \(resident / 1_048_576) MB)")
                kill(io.pid, SIGKILL)
                return nil
            }
            return min(deadline, now + tuning.memorySampleNanoseconds)
        }
        if timedOut { state.withLock { $0.statistics.timeouts += 1 } }
        if let next { supervisor.schedule(at: next) { [self] in watch(worker, job: job) } }
    }

    // MARK: Output capture

    private func readOutput(_ worker: WorkerProcess) {
        var effects = Effects()
        let ended = worker.io.withLock { io in drainOutput(worker, &io, &effects) }
        effects.logLines.forEach { log.emit(requestID: $0.0, level: $0.1, source: $0.2, line: $0.3) }
        if ended { supervisor.remove(fd: worker.outputFD, key: worker.outputKey) }
    }

    /// Reads the worker's stdout/stderr; complete lines are tagged with the running request.
    /// Returns true at end of file.
    @discardableResult
    private func drainOutput(_ worker: WorkerProcess, _ io: inout WorkerProcess.IO, _ effects: inout Effects) -> Bool {
        var ended = false
        let chunk = worker.outputScratch.bytes
        while true {
            let count = read(worker.outputFD, chunk.baseAddress, chunk.count)
            if count == 0 { ended = true }
            guard count > 0 else { break }
            io.partialOutput.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
        }
        let requestID = io.pending.first.map { $0.job.invocations[$0.index].requestID } ?? "init"
        while let newline = io.partialOutput.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: io.partialOutput[..<newline], as: UTF8.self)
            io.partialOutput.removeSubrange(...newline)
            io.tail.append(line)
            effects.logLines.append((requestID, 2, "stdout", line))
        }
        if ended && !io.partialOutput.isEmpty {
            let line = String(decoding: io.partialOutput, as: UTF8.self)
            io.partialOutput.removeAll()
            io.tail.append(line)
            effects.logLines.append((requestID, 2, "stdout", line))
        }
        return ended
    }

    // MARK: Exits

    /// Supervisor thread: the zygote reaped a child (or, with a nil pid, itself exited).
    private func childExited(pid: pid_t?, status: Int32) {
        guard let pid else {
            zygoteExited(status: status)
            return
        }
        guard let worker = state.withLock({ $0.byPID.removeValue(forKey: pid) }) else { return }
        let reason: ExitReason = chute_wifsignaled(status) != 0
            ? .signaled(signal: chute_wtermsig(status), coreDumped: chute_wcoredump(status) != 0)
            : .exited(status: chute_wexitstatus(status))
        finalize(worker, reason: reason)
    }

    private func finalize(_ worker: WorkerProcess, reason: ExitReason) {
        var effects = Effects()
        var redispatch: [(ProcessJob, [Int])] = []
        var expected = false
        worker.io.withLock { io in
            let wasStarting = io.phase == .starting || (io.phase == .exiting && !io.initialized && effects.startup == nil)
            if io.phase == .starting || io.phase == .ready { pumpLocked(worker, &io, &effects) }
            drainOutput(worker, &io, &effects)
            expected = { if case .shutdown = io.killReason { return true } else { return false } }()
            if effects.startup == nil, wasStarting, !io.initialized {
                effects.startup = { if case .initTimeout = io.killReason { return .initTimedOut } else { return .exited(reason) } }()
            } else if effects.startup == nil, !io.pending.isEmpty, io.pid > 0, {
                if case .initTimeout = io.killReason { return false } else { return true }
            }() {
                let head = io.pending.removeFirst()
                let invocation = head.job.invocations[head.index]
                let outcome: InvocationOutcome
                var exceeded = false
                switch io.killReason {
                case .timeout:
                    outcome = .unhandled(RuntimeErrors.timedOut(requestID: invocation.requestID, timeoutSeconds: configuration.timeoutSeconds))
                case .memory:
                    exceeded = true
                    outcome = .unhandled(RuntimeErrors.exited(requestID: invocation.requestID, reason: .signaled(signal: SIGKILL, coreDumped: false)))
                default:
                    outcome = .unhandled(RuntimeErrors.exited(requestID: invocation.requestID, reason: reason))
                }
                let duration = chute_monotonic_ns() - io.headStart
                let report = InvocationReport(requestID: invocation.requestID, attempt: invocation.attempt, outcome: outcome,
                                              durationNanoseconds: duration, logTail: io.tail.take(), memoryLimitExceeded: exceeded)
                if head.job.record(.completed(report), at: head.index) { effects.finished.append(head.job) }
            }
            // Invocations queued behind the head never started: run them elsewhere.
            var byJob: [ObjectIdentifier: (ProcessJob, [Int])] = [:]
            for pending in io.pending {
                byJob[ObjectIdentifier(pending.job), default: (pending.job, [])].1.append(pending.index)
            }
            redispatch = Array(byJob.values)
            io.pending.removeAll()
            io.phase = .dead
        }
        effects.release = false
        supervisor.remove(fd: worker.channelFD, key: worker.channelKey)
        supervisor.remove(fd: worker.outputFD, key: worker.outputKey)
        let replace = state.withLock { state in
            if state.workers.removeValue(forKey: worker.id) != nil { instances.give() }
            state.idle.removeAll { $0 === worker }
            state.warming.removeAll { $0 === worker }
            state.busy.remove(worker.id)
            if !expected { state.statistics.workerExits += 1 }
            return !state.isShutDown && state.zygote != nil && state.workers.count < configuration.prewarmInstances
        }
        if !expected {
            log.logger.warning("worker exited", metadata: ["function": .string(configuration.name), "reason": .string(reason.lambdaText)])
        }
        effects.run(pool: self, worker: worker)
        for (job, indices) in redispatch {
            Task { [self] in
                if let next = await dispatch(job, indices: indices) { handOver(next, job: job) }
            }
        }
        if replace { Task { [self] in await prewarmOne() } }
    }

    // MARK: The zygote

    /// Makes `zygote` the one that forks workers, and prewarms instances on it.
    private func adopt(_ zygote: ZygoteHandle) async {
        zygote.onExit = { [weak self] pid, status in self?.childExited(pid: pid, status: status) }
        let accepted = state.withLock { state in
            guard !state.isShutDown else { return false }
            state.zygote = zygote
            return true
        }
        guard accepted else {
            zygote.close()
            return
        }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<configuration.prewarmInstances {
                group.addTask { await self.prewarmOne() }
            }
        }
    }

    /// Supervisor thread: the zygote died (killed, out of memory). Its children die with it; their
    /// invocations fail as killed, and a new zygote is started with backoff while callers that
    /// need a new instance are throttled (a throttle uses up no retry).
    private func zygoteExited(status: Int32) {
        let (all, restart) = state.withLock { state in
            state.zygote = nil
            return (Array(state.workers.values), !state.isShutDown)
        }
        all.forEach { finalize($0, reason: .signaled(signal: SIGKILL, coreDumped: false)) }
        guard restart else { return }
        log.logger.error("the worker zygote exited (\(ExitDescription.of(status))); starting a new one",
                         metadata: ["function": .string(configuration.name)])
        Task { await restartZygote() }
    }

    private func restartZygote() async {
        var delay: Duration = .milliseconds(10)
        while !state.withLock({ $0.isShutDown }) {
            do {
                let (zygote, _) = try await ZygoteHandle.start(settings: settings, supervisor: supervisor)
                state.withLock { $0.statistics.zygoteRestarts += 1 }
                await adopt(zygote)
                return
            } catch {
                log.logger.error("cannot restart the worker zygote: \(error); retrying in \(delay)",
                                 metadata: ["function": .string(configuration.name)])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    private func forget(_ worker: WorkerProcess) {
        state.withLock { state in
            if state.workers.removeValue(forKey: worker.id) != nil { instances.give() }
            state.warming.removeAll { $0 === worker }
            state.busy.remove(worker.id)
        }
    }

    // MARK: Shutdown

    private func stopWorker(_ worker: WorkerProcess) {
        worker.io.withLock { $0.killReason = .shutdown }
        var writer = WireWriter()
        writer.frame(.stop) { _ in }
        _ = FileDescriptorIO.writeAll(worker.channelFD, writer.bytes)
    }

    func shutdown() async {
        let idle = state.withLock { state in
            state.isShutDown = true
            defer { state.idle.removeAll() }
            return state.idle
        }
        idle.forEach(stopWorker)
        let until = chute_monotonic_ns() + timeoutNanoseconds + 2_000_000_000
        while state.withLock({ !$0.workers.isEmpty }) && chute_monotonic_ns() < until {
            try? await Task.sleep(for: .milliseconds(2))
        }
        state.withLock { $0.zygote }?.close()
    }
}
