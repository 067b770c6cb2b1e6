import ArgumentParser
import ChuteABI
import ChuteCore
import ChuteWorkers
import Glibc
import Logging

/// `chute-bench`: what the host costs per invocation, for a no-op handler, measured side by side
/// in one run. Build and run it in release mode (see BENCHMARKS.md):
///
///     swift build -c release --product chute-bench && swift build -c release --product ChuteNoop \
///       && swift build -c release --product ChuteFaults && .build/release/chute-bench
@main
struct ChuteBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chute-bench", abstract: "Measure call, invocation and crash-replacement costs of the Chute host.")

    @Option(help: "Repetitions of every throughput and call-cost measurement; medians are reported.")
    var rounds = 5

    @Option(help: "Timed round trips per latency measurement.")
    var samples = 20_000

    @Option(help: "Seconds per throughput repetition.")
    var seconds = 1.0

    @Option(help: "Invocations per batch in pipelined throughput runs.")
    var batch = 128

    @Option(help: "Crashes timed for worker replacement.")
    var crashes = 200

    @Option(help: "The no-op handler library (default: libChuteNoop.so beside this executable).")
    var noopLibrary: String?

    @Option(help: "The fault-injection library (default: libChuteFaults.so beside this executable).")
    var faultsLibrary: String?

    @Option(help: "What to measure: runtime (calls, pools, crashes), async (the durable pipeline on SQLite), fanout (a topic with 3 subscribers), mappings (stream event source mappings) or postgres (1 and 2 hosts on PostgreSQL beside SQLite; needs --postgres).")
    var suite = "runtime"

    @Option(help: "Postgres suite: the database to measure on (postgres://user@host:port/database); each run uses a fresh schema.")
    var postgres: String?

    @Option(help: "Async, fanout and mappings suites: events (messages, records) per throughput run.")
    var events = 100_000

    @Option(help: "Async and mappings suites: fixed rates (events or records/s) for the latency runs, comma-separated.")
    var rates = "1000,5000"

    @Option(help: "Async suite: seconds per latency run.")
    var latencySeconds = 5.0

    mutating func run() async throws {
        let noop = try noopLibrary ?? Self.beside("libChuteNoop.so")
        let faults = try faultsLibrary ?? Self.beside("libChuteFaults.so")
        var report = BenchReport()
        if suite == "async" {
            try await measureAsyncPipeline(noop, &report)
            return
        }
        if suite == "fanout" {
            try await measureFanOut(noop, &report)
            return
        }
        if suite == "mappings" {
            try await measureMappings(noop, &report)
            return
        }
        if suite == "postgres" {
            guard let postgres else { throw ValidationError("--suite postgres needs --postgres URL (scripts/postgres.sh start DIR prints one)") }
            try await measureSharedStore(noop, postgres: postgres, &report)
            return
        }
        guard suite == "runtime" else { throw ValidationError("--suite must be runtime, async, fanout, mappings or postgres, not \(suite)") }
        report.line("# chute-bench: \(rounds) rounds, \(samples) samples, \(seconds) s per throughput round, batch \(batch)")
        report.line("")
        try measureCallCosts(noop, &report)
        for isolation in [Isolation.thread, .process] {
            try await measureRoundTrip(noop, isolation, &report)
        }
        for isolation in [Isolation.thread, .process] {
            try await measureThroughput(noop, isolation, &report)
        }
        try await measureReplacement(faults, &report)
    }

    // MARK: Calls in process

    private func measureCallCosts(_ library: String, _ report: inout BenchReport) throws {
        report.line("## In-process calls of the no-op entry point (ns per call, median of \(rounds))")
        report.line("| path | bare call | whole invocation (host API bookkeeping, classification) |")
        report.line("|---|---|---|")
        for path in EntryCallPath.allCases {
            let module = try HandlerModule.load(path: library, handler: .entryPoint(symbol: "chute_handle"), callPath: path)
            let instance = HandlerInstance(module: module)
            let recorder = CallRecorder(function: FunctionIdentity(name: "noop", arn: "arn", version: "$LATEST", memoryMB: 128),
                                        responseLimit: 6 * 1_048_576, logSink: DiscardingLogSink())
            let calls = 2_000_000
            var bare: [Double] = []
            var whole: [Double] = []
            let invocation = Invocation(payload: [])
            for _ in 0..<rounds {
                bare.append(instance.measureEntryCalls(iterations: calls, recorder: recorder))
                let start = Measure.now()
                for _ in 0..<calls / 4 {
                    _ = instance.invoke(invocation, recorder: recorder, deadlineNanoseconds: .max, deadlineWallMilliseconds: .max)
                }
                whole.append(Double(Measure.now() - start) / Double(calls / 4))
            }
            report.line("| \(path.rawValue) | \(Measure.format(Measure.median(bare), digits: 1)) | \(Measure.format(Measure.median(whole), digits: 1)) |")
        }
        report.line("")
    }

    // MARK: Pools

    func pool(_ library: String, _ isolation: Isolation, concurrency: Int) async throws -> any FunctionPool {
        var logger = Logger(label: "chute.bench")
        logger.logLevel = .error
        let configuration = FunctionConfiguration(name: "noop", library: library, isolation: isolation, concurrency: concurrency,
                                                  prewarmInstances: isolation == .process ? concurrency : 0)
        return try await FunctionPools.start(configuration, logger: logger)
    }

    private func measureRoundTrip(_ library: String, _ isolation: Isolation, _ report: inout BenchReport) async throws {
        let pool = try await pool(library, isolation, concurrency: 1)
        let invocation = Invocation(payload: [])
        for _ in 0..<2_000 { _ = await pool.invoke(invocation) }
        var durations: [Int64] = []
        durations.reserveCapacity(samples)
        for _ in 0..<samples {
            let start = Measure.now()
            let result = await pool.invoke(invocation)
            durations.append(Measure.now() - start)
            guard result.report?.outcome.isSuccess == true else { throw ValidationError("no-op invocation failed: \(result)") }
        }
        await pool.shutdown()
        if report.roundTripHeader {
            report.line("## Round trip with one caller (µs)")
            report.line("| isolation | p50 | p90 | p99 |")
            report.line("|---|---|---|---|")
            report.roundTripHeader = false
        }
        report.line("| \(isolation.rawValue) | \(Measure.microseconds(Measure.percentile(durations, 0.5))) | "
                    + "\(Measure.microseconds(Measure.percentile(durations, 0.9))) | \(Measure.microseconds(Measure.percentile(durations, 0.99))) |")
        if isolation == .process { report.line("") }
    }

    private func measureThroughput(_ library: String, _ isolation: Isolation, _ report: inout BenchReport) async throws {
        if report.throughputHeader {
            report.line("## Throughput (invocations/s, median of \(rounds) rounds of \(seconds) s)")
            report.line("| isolation | 1 caller, single | 2 callers, single | 1 caller, batches of \(batch) | 2 callers, batches of \(batch) |")
            report.line("|---|---|---|---|---|")
            report.throughputHeader = false
        }
        var cells: [String] = []
        for (callers, batchSize) in [(1, 1), (2, 1), (1, batch), (2, batch)] {
            let pool = try await pool(library, isolation, concurrency: callers)
            var rates: [Double] = []
            for _ in 0..<rounds {
                rates.append(await Self.rate(pool: pool, callers: callers, batchSize: batchSize, seconds: seconds))
            }
            await pool.shutdown()
            cells.append(Measure.rate(Measure.median(rates)))
        }
        report.line("| \(isolation.rawValue) | " + cells.joined(separator: " | ") + " |")
        if isolation == .process { report.line("") }
    }

    /// Invocations per second that `callers` tasks complete, each sending `batchSize` at a time.
    private static func rate(pool: any FunctionPool, callers: Int, batchSize: Int, seconds: Double) async -> Double {
        let invocations = (0..<batchSize).map { _ in Invocation(payload: []) }
        let start = Measure.now()
        let until = start + Int64(seconds * 1e9)
        let completed = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<callers {
                group.addTask {
                    var done = 0
                    while Measure.now() < until {
                        let results = batchSize == 1 ? [await pool.invoke(invocations[0])] : await pool.invoke(batch: invocations)
                        done += results.count { $0.report?.outcome.isSuccess == true }
                    }
                    return done
                }
            }
            return await group.reduce(0, +)
        }
        return Double(completed) / (Double(Measure.now() - start) / 1e9)
    }

    // MARK: Crashes

    private func measureReplacement(_ library: String, _ report: inout BenchReport) async throws {
        var logger = Logger(label: "chute.bench")
        logger.logLevel = .critical
        let configuration = FunctionConfiguration(name: "faults", library: library, isolation: .process, concurrency: 1, prewarmInstances: 1)
        let pool = try await FunctionPools.start(configuration, logger: logger)
        let crash = Invocation(payload: Array("segfault".utf8))
        let echo = Invocation(payload: Array("echo".utf8))
        var crashTrips: [Int64] = []
        var replacements: [Int64] = []
        var normalTrips: [Int64] = []
        for _ in 0..<crashes {
            let start = Measure.now()
            let crashed = await pool.invoke(crash)
            let crashedAt = Measure.now()
            guard crashed.report?.outcome.error?.errorType == "Runtime.ExitError" else { throw ValidationError("expected a crash: \(crashed)") }
            let next = await pool.invoke(echo)
            let servedAt = Measure.now()
            guard next.report?.outcome.isSuccess == true else { throw ValidationError("expected a success after the crash: \(next)") }
            let normal = await pool.invoke(echo)
            normalTrips.append(Measure.now() - servedAt)
            guard normal.report?.outcome.isSuccess == true else { throw ValidationError("expected a success: \(normal)") }
            crashTrips.append(crashedAt - start)
            replacements.append(servedAt - crashedAt)
        }
        await pool.shutdown()
        report.line("## Worker replacement after a crash (process isolation, concurrency 1, \(crashes) crashes, µs)")
        report.line("| measure | p50 | p99 |")
        report.line("|---|---|---|")
        report.line("| segfaulting invocation, round trip | \(Measure.microseconds(Measure.percentile(crashTrips, 0.5))) | \(Measure.microseconds(Measure.percentile(crashTrips, 0.99))) |")
        report.line("| next invocation (waits for the replacement) | \(Measure.microseconds(Measure.percentile(replacements, 0.5))) | \(Measure.microseconds(Measure.percentile(replacements, 0.99))) |")
        report.line("| a normal invocation, for comparison | \(Measure.microseconds(Measure.percentile(normalTrips, 0.5))) | \(Measure.microseconds(Measure.percentile(normalTrips, 0.99))) |")
    }

    // MARK: Helpers

    static func beside(_ name: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { throw ValidationError("cannot locate this executable to find \(name); pass its path") }
        let executable = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let directory = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let path = directory + "/" + name
        guard access(path, R_OK) == 0 else {
            throw ValidationError("\(path) not found: build it first (swift build -c release --product \(name.dropFirst(3).dropLast(3)))")
        }
        return path
    }
}

/// The report is printed as it is measured, in Markdown for BENCHMARKS.md.
struct BenchReport {
    var roundTripHeader = true
    var throughputHeader = true

    func line(_ text: String) {
        print(text)
    }
}

/// The benchmark's handlers do not log.
final class DiscardingLogSink: HandlerLogSink {
    func handlerLog(requestID: String, level: Int32, line: UnsafeRawBufferPointer) {}
}
