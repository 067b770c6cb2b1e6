import CChuteSys
import ChuteCore
import ChuteWorkers
import Testing

/// Timeouts fire near the deadline (a generous bound: these machines are shared and noisy).
@Suite(.serialized) struct TimeoutTests {
    @Test func processTimeoutKillsAndReplacesTheWorker() async throws {
        try await PoolTesting.withPool(PoolTesting.faults(.process, timeout: 1)) { pool in
            let start = chute_monotonic_ns()
            let report = await pool.run("loop", requestID: "slow")
            let elapsed = Double(chute_monotonic_ns() - start) / 1e9
            #expect(report.outcome == .unhandled(FunctionError(errorType: "Sandbox.Timedout", errorMessage: "RequestId: slow Error: Task timed out after 1.00 seconds")))
            #expect(elapsed >= 0.99 && elapsed < 2.5, "timed out after \(elapsed) s")
            #expect(await pool.run("echo").outcome.isSuccess)
            #expect(pool.statistics.timeouts == 1)
        }
    }

    @Test func threadTimeoutAbandonsTheThread() async throws {
        try await PoolTesting.withPool(PoolTesting.faults(.thread, timeout: 1)) { pool in
            let start = chute_monotonic_ns()
            let report = await pool.run("sleep 1500", requestID: "slow")
            let elapsed = Double(chute_monotonic_ns() - start) / 1e9
            #expect(report.outcome.error?.errorType == "Sandbox.Timedout")
            #expect(report.outcome.error?.errorMessage == "RequestId: slow Error: Task timed out after 1.00 seconds")
            #expect(elapsed >= 0.99 && elapsed < 1.45, "timed out after \(elapsed) s")
            #expect(pool.statistics.abandonedThreads == 1)
            // A fresh instance serves the next call.
            #expect(await pool.run("count").responseText == "1")
        }
    }

    @Test func threadTimeoutRaisesTheCancellationFlag() async throws {
        try await PoolTesting.withPool(PoolTesting.faults(.thread, timeout: 1)) { pool in
            let report = await pool.run("spin")
            #expect(report.outcome.error?.errorType == "Sandbox.Timedout")
            // The spinning handler saw is_cancelled and returned; its thread is no longer counted.
            try await Task.sleep(for: .milliseconds(200))
            #expect(pool.statistics.abandonedThreads == 0)
        }
    }

    @Test(arguments: Isolation.allCases)
    func initTimeoutIsAnInitError(_ isolation: Isolation) async throws {
        try await PoolTesting.withPool(PoolTesting.faults(isolation, prewarm: 0, initConfig: "sleep:3000", initTimeout: 1)) { pool in
            let report = await pool.run("echo", requestID: "r")
            #expect(report.outcome.error?.errorType == "Runtime.InitError")
            #expect(report.outcome.error?.errorMessage == "RequestId: r Error: Init timed out after 1.00 seconds")
        }
    }
}
