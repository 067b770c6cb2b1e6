import CChuteSys
import ChuteABI
import ChuteCore
import Glibc
import Synchronization

/// One host thread with its own call recorder, running jobs one at a time.
///
/// Timeout protocol: before each call the thread publishes a sequence number and deadline; after
/// the call it swaps the number back to 0. The supervisor abandons a thread by swapping the same
/// number to `abandoned`; whichever swap wins decides whether the call's result counts. A thread
/// that loses exits as soon as its handler returns, without touching its job or its instance.
final class ThreadWorker: @unchecked Sendable {
    static let abandoned = UInt64.max

    let activeSequence = Atomic<UInt64>(0)
    let activeDeadline = Atomic<Int64>(.max)
    /// Index in the current job of the invocation being run.
    let activeIndex = Atomic<Int>(-1)
    let recorder: CallRecorder
    let sink: ThreadLogSink
    private let parker: UnsafeMutablePointer<chute_parker>
    private let mailbox = Mutex<(job: ThreadJob?, stop: Bool)>((nil, false))
    private var sequence: UInt64 = 0
    private weak var pool: ThreadPool?
    /// The instance this thread uses: its own, or the module's shared one when thread-safe.
    var instance: HandlerInstance?

    init(pool: ThreadPool, recorder: CallRecorder, sink: ThreadLogSink) {
        self.pool = pool
        self.recorder = recorder
        self.sink = sink
        parker = .allocate(capacity: 1)
        chute_parker_init(parker)
    }

    deinit { parker.deallocate() }

    func start(stackBytes: Int) {
        let box = Unmanaged.passRetained(self).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, stackBytes)
        var handle = pthread_t()
        let status = pthread_create(&handle, &attributes, { raw in
            let worker = Unmanaged<ThreadWorker>.fromOpaque(raw!).takeRetainedValue()
            worker.run()
            return nil
        }, box)
        pthread_attr_destroy(&attributes)
        precondition(status == 0, "cannot start a handler thread: pthread_create returned \(status)")
        pthread_detach(handle)
    }

    func post(_ job: ThreadJob) {
        mailbox.withLock { $0.job = job }
        chute_parker_unpark(parker)
    }

    func stop() {
        mailbox.withLock { $0.stop = true }
        chute_parker_unpark(parker)
    }

    // MARK: Thread body

    private func run() {
        guard let pool else { return }
        let spin = pool.tuning.workerSpinNanoseconds
        while true {
            let (job, stop) = mailbox.withLock { state in
                let taken = (state.job, state.stop)
                state.job = nil
                return taken
            }
            if let job {
                guard runJob(job, pool: pool) else { return }  // abandoned or failed instance
                continue
            }
            if stop {
                pool.workerStopped(self)
                return
            }
            _ = chute_parker_park(parker, spin, -1)
        }
    }

    /// Runs the job's remaining invocations. Returns false when this thread must end.
    private func runJob(_ job: ThreadJob, pool: ThreadPool) -> Bool {
        while let index = job.nextIndex {
            if instance == nil {
                switch pool.instanceForWorker(self, job: job) {
                case .ready(let ready): instance = ready
                case .abandoned: return false
                case .failed:
                    job.finish()
                    return false
                }
            }
            let invocation = job.invocations[index]
            let timeout = pool.timeoutNanoseconds
            let start = chute_monotonic_ns()
            let deadline = start + timeout
            sequence += 1
            activeIndex.store(index, ordering: .relaxed)
            activeDeadline.store(deadline, ordering: .relaxed)
            activeSequence.store(sequence, ordering: .releasing)
            let outcome = instance!.invoke(invocation, recorder: recorder, deadlineNanoseconds: deadline,
                                           deadlineWallMilliseconds: chute_wall_ms() + timeout / 1_000_000)
            guard activeSequence.compareExchange(expected: sequence, desired: 0, ordering: .acquiringAndReleasing).exchanged else {
                pool.abandonedThreadFinished()
                return false
            }
            let end = chute_monotonic_ns()
            // A handler that returns after its deadline timed out, even if the supervisor had not
            // yet acted: the result is discarded, as Lambda discards it. The instance stays usable.
            let finalOutcome = end > deadline
                ? .unhandled(RuntimeErrors.timedOut(requestID: invocation.requestID, timeoutSeconds: pool.configuration.timeoutSeconds))
                : outcome
            let report = InvocationReport(requestID: invocation.requestID, attempt: invocation.attempt, outcome: finalOutcome,
                                          durationNanoseconds: end - start, logTail: sink.tail.take())
            job.record(.completed(report), at: index)
        }
        pool.release(self)
        job.finish()
        return true
    }

    /// Runs `chute_init` for a fresh instance on this thread, under the init deadline.
    /// Returns nil on success, or the outcome error; nil instance and `false` when abandoned.
    func initialize(_ instance: HandlerInstance, config: [UInt8], initTimeout: Int64) -> (error: FunctionError?, abandoned: Bool) {
        sequence += 1
        let deadline = chute_monotonic_ns() + initTimeout
        activeIndex.store(-1, ordering: .relaxed)
        activeDeadline.store(deadline, ordering: .relaxed)
        activeSequence.store(sequence, ordering: .releasing)
        let error = instance.initialize(config: config, recorder: recorder, deadlineNanoseconds: deadline,
                                        deadlineWallMilliseconds: chute_wall_ms() + initTimeout / 1_000_000)
        guard activeSequence.compareExchange(expected: sequence, desired: 0, ordering: .acquiringAndReleasing).exchanged else {
            return (nil, true)
        }
        return (error, false)
    }
}
