import CChuteSys
import ChuteABI
import ChuteCore
import Glibc
import Logging
import Synchronization

/// Thread isolation: handlers run on host threads, one instance per thread unless the module is
/// thread-safe (then all threads share one).
///
/// For trusted handlers where speed matters. A crash in a handler ends the whole host process.
/// A timeout raises the call's cancellation flag and abandons the thread: its instance is
/// poisoned (never used or destroyed again) and a fresh one replaces it. Abandoned threads keep
/// running until their handler returns; at most `PoolTuning.abandonedThreadLimit` may exist, after
/// which new instances are refused (a throttle) until some finish.
final class ThreadPool: FunctionPool, @unchecked Sendable {
    let configuration: FunctionConfiguration
    let module: HandlerModule
    let tuning: PoolTuning
    let timeoutNanoseconds: Int64
    private let initTimeoutNanoseconds: Int64
    private let supervisor: Supervisor
    private let log: InvocationLog
    private let identity: FunctionIdentity
    private let state = Mutex(State())

    private struct State {
        var idle: [ThreadWorker] = []
        var statistics = PoolStatistics()
        var isShutDown = false
        var shared: HandlerInstance?
        var sharedInitializing = false
    }

    var moduleInfo: ModuleInfo { module.info }
    var statistics: PoolStatistics { state.withLock { $0.statistics } }
    private var sharesInstance: Bool { module.info.isThreadSafe }

    init(configuration: FunctionConfiguration, logger: Logger, tuning: PoolTuning, supervisor: Supervisor) throws {
        self.configuration = configuration
        self.tuning = tuning
        self.supervisor = supervisor
        self.log = InvocationLog(logger: logger, tailLimitBytes: tuning.logTailBytes)
        self.identity = FunctionIdentity(configuration)
        timeoutNanoseconds = Int64(configuration.timeoutSeconds * 1e9)
        initTimeoutNanoseconds = Int64(configuration.initTimeoutSeconds * 1e9)
        module = try HandlerModule.load(path: configuration.library, handler: configuration.handler, callPath: tuning.callPath)
    }

    // MARK: Invoking

    func invoke(batch: [Invocation]) async -> [InvokeResult] {
        guard !batch.isEmpty else { return [] }
        let worker: ThreadWorker
        switch acquire() {
        case .success(let acquired): worker = acquired
        case .failure(let throttle): return batch.map { _ in .throttled(throttle) }
        }
        let job = ThreadJob(batch)
        worker.post(job)
        return await job.completion.wait(spinNanoseconds: tuning.callerSpinNanoseconds, handOver: { watch(job, on: worker) })
    }

    private func acquire() -> Result<ThreadWorker, Throttle> {
        let outcome: Result<ThreadWorker?, Throttle> = state.withLock { state in
            guard !state.isShutDown else { return .failure(Throttle(reason: .shuttingDown, functionName: configuration.name)) }
            if let worker = state.idle.popLast() {
                markBusy(&state)
                return .success(worker)
            }
            guard state.statistics.liveInstances < configuration.concurrency else {
                state.statistics.throttles += 1
                return .failure(Throttle(reason: .concurrencyLimitReached(limit: configuration.concurrency), functionName: configuration.name))
            }
            guard state.statistics.abandonedThreads < tuning.abandonedThreadLimit else {
                state.statistics.throttles += 1
                return .failure(Throttle(reason: .abandonedThreadLimitReached(limit: tuning.abandonedThreadLimit), functionName: configuration.name))
            }
            state.statistics.liveInstances += 1
            state.statistics.instancesStarted += 1
            markBusy(&state)
            return .success(nil)
        }
        switch outcome {
        case .failure(let throttle): return .failure(throttle)
        case .success(let worker?): return .success(worker)
        case .success(nil):
            let sink = ThreadLogSink(log: log)
            let worker = ThreadWorker(pool: self, recorder: CallRecorder(function: identity, responseLimit: configuration.maxResponseBytes, logSink: sink), sink: sink)
            worker.start(stackBytes: 8 << 20)
            return .success(worker)
        }
    }

    private func markBusy(_ state: inout State) {
        state.statistics.busyInstances += 1
        state.statistics.peakBusyInstances = max(state.statistics.peakBusyInstances, state.statistics.busyInstances)
    }

    // MARK: Called by worker threads

    enum InstanceResult { case ready(HandlerInstance), failed, abandoned }

    /// Gives a worker an initialized instance: its own, or the shared one for thread-safe modules.
    func instanceForWorker(_ worker: ThreadWorker, job: ThreadJob) -> InstanceResult {
        if sharesInstance {
            while true {
                let claim: HandlerInstance?? = state.withLock { state in
                    if let shared = state.shared { return .some(shared) }
                    if state.sharedInitializing { return .none }
                    state.sharedInitializing = true
                    return .some(nil)
                }
                switch claim {
                case .some(let shared?): return .ready(shared)
                case .none: usleep(100)  // another thread is running chute_init; rare, so poll
                case .some(nil):
                    let result = initializeInstance(on: worker, job: job)
                    state.withLock { state in
                        state.sharedInitializing = false
                        if case .ready(let instance) = result { state.shared = instance }
                    }
                    return result
                }
            }
        }
        return initializeInstance(on: worker, job: job)
    }

    private func initializeInstance(on worker: ThreadWorker, job: ThreadJob) -> InstanceResult {
        let instance = HandlerInstance(module: module)
        let (error, abandoned) = worker.initialize(instance, config: configuration.initConfig, initTimeout: initTimeoutNanoseconds)
        if abandoned {
            abandonedThreadFinished()
            return .abandoned
        }
        if let error {
            log.logger.error("chute_init failed", metadata: ["function": .string(configuration.name), "error": .string("\(error.errorType): \(error.errorMessage)")])
            job.recordRemaining { invocation in
                .completed(InvocationReport(requestID: invocation.requestID, attempt: invocation.attempt,
                                            outcome: .unhandled(RuntimeErrors.initFailed(requestID: invocation.requestID, handlerError: error)),
                                            durationNanoseconds: 0, logTail: worker.sink.tail.take()))
            }
            state.withLock { state in
                state.statistics.liveInstances -= 1
                state.statistics.busyInstances -= 1
                state.statistics.initFailures += 1
            }
            return .failed
        }
        return .ready(instance)
    }

    func release(_ worker: ThreadWorker) {
        let stop = state.withLock { state in
            state.statistics.busyInstances -= 1
            if state.isShutDown { return true }
            state.idle.append(worker)
            return false
        }
        if stop { worker.stop() }
    }

    func workerStopped(_ worker: ThreadWorker) {
        if !sharesInstance { worker.instance?.destroy() }
        let destroyShared: HandlerInstance? = state.withLock { state in
            state.statistics.liveInstances -= 1
            guard state.isShutDown, state.statistics.liveInstances == 0 else { return nil }
            defer { state.shared = nil }
            return state.shared
        }
        destroyShared?.destroy()
    }

    func abandonedThreadFinished() {
        state.withLock { $0.statistics.abandonedThreads -= 1 }
    }

    // MARK: Timeouts (supervisor thread)

    private func watch(_ job: ThreadJob, on worker: ThreadWorker) {
        let now = chute_monotonic_ns()
        supervisor.schedule(at: min(worker.activeDeadline.load(ordering: .relaxed), now + 1_000_000)) { [self] in
            check(job, on: worker)
        }
    }

    private func check(_ job: ThreadJob, on worker: ThreadWorker) {
        guard !job.completion.isCompleted else { return }
        let sequence = worker.activeSequence.load(ordering: .acquiring)
        let deadline = worker.activeDeadline.load(ordering: .acquiring)
        let index = worker.activeIndex.load(ordering: .relaxed)
        let now = chute_monotonic_ns()
        let running = sequence != 0 && sequence != ThreadWorker.abandoned
        if running, now >= deadline, worker.activeSequence.load(ordering: .acquiring) == sequence,
            worker.activeSequence.compareExchange(expected: sequence, desired: ThreadWorker.abandoned, ordering: .acquiringAndReleasing).exchanged
        {
            abandon(worker, job: job, index: index)
            return
        }
        let next = running ? max(deadline, now + 100_000) : now + 1_000_000
        supervisor.schedule(at: next) { [self] in check(job, on: worker) }
    }

    private func abandon(_ worker: ThreadWorker, job: ThreadJob, index: Int) {
        worker.recorder.cancel()
        state.withLock { state in
            state.statistics.liveInstances -= 1
            state.statistics.busyInstances -= 1
            state.statistics.abandonedThreads += 1
            if index >= 0 { state.statistics.timeouts += 1 }
            if let instance = worker.instance, state.shared === instance { state.shared = nil }
            if index < 0 { state.sharedInitializing = false }
        }
        let seconds = index < 0 ? configuration.initTimeoutSeconds : configuration.timeoutSeconds
        log.logger.warning("handler thread abandoned after timeout", metadata: [
            "function": .string(configuration.name), "timeout.seconds": .stringConvertible(seconds),
        ])
        if index < 0 {
            job.recordRemaining { invocation in
                .completed(InvocationReport(requestID: invocation.requestID, attempt: invocation.attempt,
                                            outcome: .unhandled(RuntimeErrors.initTimedOut(requestID: invocation.requestID, timeoutSeconds: seconds)),
                                            durationNanoseconds: initTimeoutNanoseconds))
            }
            job.finish()
            return
        }
        let invocation = job.invocations[index]
        job.record(.completed(InvocationReport(
            requestID: invocation.requestID, attempt: invocation.attempt,
            outcome: .unhandled(RuntimeErrors.timedOut(requestID: invocation.requestID, timeoutSeconds: seconds)),
            durationNanoseconds: timeoutNanoseconds)), at: index)
        guard job.nextIndex != nil else {
            job.finish()
            return
        }
        // The rest of the batch never started: run it on a fresh instance.
        switch acquire() {
        case .success(let replacement): replacement.post(job)
        case .failure(let throttle):
            job.recordRemaining { _ in .throttled(throttle) }
            job.finish()
        }
    }

    // MARK: Shutdown

    func shutdown() async {
        let idle = state.withLock { state in
            state.isShutDown = true
            defer { state.idle.removeAll() }
            return state.idle
        }
        idle.forEach { $0.stop() }
        // Wait (bounded) for idle and busy threads to finish and destroy their instances.
        let until = chute_monotonic_ns() + timeoutNanoseconds + 1_000_000_000
        while state.withLock({ $0.statistics.liveInstances > 0 }) && chute_monotonic_ns() < until {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
}
