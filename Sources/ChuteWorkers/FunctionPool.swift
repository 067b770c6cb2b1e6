import ChuteABI
import ChuteCore
import Logging

/// The instances of one function, bounded by its concurrency, in one isolation mode.
///
/// `invoke` never throws: whatever the handler does is an `InvocationReport`, and a full pool is
/// a `Throttle`. Swift errors are for host misuse only (a library that cannot be loaded, a pool
/// used after shutdown).
public protocol FunctionPool: AnyObject, Sendable {
    var configuration: FunctionConfiguration { get }
    /// Module info of the loaded library.
    var moduleInfo: ModuleInfo { get }

    /// Runs one invocation on a free instance, or throttles when every instance is busy.
    func invoke(_ invocation: Invocation) async -> InvokeResult

    /// Runs several invocations back to back on one instance, pipelined: one hand-off for the
    /// whole batch instead of one per invocation. Each still gets its own deadline and report;
    /// if one crashes or times out, the rest run on a replacement instance.
    func invoke(batch: [Invocation]) async -> [InvokeResult]

    /// Stops every instance: idle ones run `chute_destroy`; no invocation is accepted afterwards.
    func shutdown() async

    var statistics: PoolStatistics { get }
}

extension FunctionPool {
    public func invoke(_ invocation: Invocation) async -> InvokeResult {
        await invoke(batch: [invocation])[0]
    }
}

/// Counters a pool keeps, for tests, benchmarks and metrics.
public struct PoolStatistics: Sendable, Hashable {
    /// Instances alive now (idle or busy).
    public var liveInstances = 0
    /// Instances running an invocation now.
    public var busyInstances = 0
    /// Most instances ever busy at once: never above the concurrency limit.
    public var peakBusyInstances = 0
    public var throttles = 0
    public var timeouts = 0
    /// Worker processes that died (crash, exit, kill) and were replaced.
    public var workerExits = 0
    /// Threads abandoned after a timeout that are still running.
    public var abandonedThreads = 0
    public var instancesStarted = 0
    public var initFailures = 0
    /// Process isolation: the zygote that forks this function's workers, while one runs.
    public var zygoteProcessID: Int32?
    /// Process isolation: zygotes started again after the previous one died.
    public var zygoteRestarts = 0
}

/// Knobs for the cost of waiting, documented with their measurements in BENCHMARKS.md.
public struct PoolTuning: Sendable, Hashable {
    /// How long a caller spins for its result before suspending.
    public var callerSpinNanoseconds: Int64 = 50_000
    /// How long an idle worker spins for new work before sleeping.
    public var workerSpinNanoseconds: Int64 = 50_000
    /// Thread isolation: timed-out threads that may still run before new instances are refused.
    public var abandonedThreadLimit = 16
    /// Process isolation: how often a long invocation's memory is sampled.
    public var memorySampleNanoseconds: Int64 = 5_000_000
    /// Bytes of log lines kept per report.
    public var logTailBytes = 4096
    /// How a native entry point is called.
    public var callPath: EntryCallPath = .direct
    /// Process isolation: the host-wide budget of worker processes this pool draws from.
    public var instances: InstanceBudget = .shared

    public init() {}
}

/// Makes the pool for a function's isolation mode and loads its library.
public enum FunctionPools {
    public static func start(
        _ configuration: FunctionConfiguration, logger: Logger, tuning: PoolTuning = PoolTuning(),
        supervisor: Supervisor = .shared
    ) async throws -> any FunctionPool {
        switch configuration.isolation {
        case .thread:
            return try ThreadPool(configuration: configuration, logger: logger, tuning: tuning, supervisor: supervisor)
        case .process:
            return try await ProcessPool.start(configuration: configuration, logger: logger, tuning: tuning, supervisor: supervisor)
        }
    }
}

/// Misuse of a pool.
public struct PoolError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
