import ChuteCore
import ChuteWorkers
import Glibc
import Synchronization
import Testing

@Suite(.serialized) struct ResilienceTests {
    @Test func thousandCrashesThenNormalInvocations() async throws {
        try await PoolTesting.withPool(PoolTesting.faults(.process, concurrency: 2, prewarm: 2)) { pool in
            var exitErrors = 0
            for index in 0..<1000 {
                let report = await pool.run(index.isMultiple(of: 2) ? "segfault" : "abort")
                if report.outcome.error?.errorType == "Runtime.ExitError" { exitErrors += 1 }
            }
            #expect(exitErrors == 1000)
            for _ in 0..<20 {
                #expect(await pool.run("echo").outcome.isSuccess)
            }
            #expect(pool.statistics.workerExits == 1000)
        }
    }

    @Test func aKilledZygoteIsStartedAgain() async throws {
        try await PoolTesting.withPool(PoolTesting.faults(.process, concurrency: 2, prewarm: 2)) { pool in
            #expect(await pool.run("echo").outcome.isSuccess)
            let first = try #require(pool.statistics.zygoteProcessID)
            kill(first, SIGKILL)
            // Until the new zygote is up, callers are throttled (or, if they raced the kill, get the
            // killed worker's ExitError); then invocations succeed again on new workers.
            var recovered = false
            let deadline = ContinuousClock.now + .seconds(10)
            while !recovered && ContinuousClock.now < deadline {
                switch await pool.invoke(Invocation(payload: Array("echo".utf8))) {
                case .completed(let report) where report.outcome.isSuccess:
                    // A success may still come from an old worker before the kill reached it.
                    let current = pool.statistics.zygoteProcessID
                    recovered = current != nil && current != first
                case .completed(let report):
                    #expect(report.outcome.error?.errorType == "Runtime.ExitError")
                case .throttled(let throttle):
                    #expect(throttle.reason == .workersRestarting)
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            #expect(recovered)
            #expect(pool.statistics.zygoteRestarts == 1)
            #expect(await pool.run("count").outcome.isSuccess)
        }
    }

    @Test(arguments: Isolation.allCases)
    func concurrencyLimitHoldsUnderParallelLoad(_ isolation: Isolation) async throws {
        try await PoolTesting.withPool(PoolTesting.faults(isolation, concurrency: 3, prewarm: 3)) { pool in
            let results = await withTaskGroup(of: InvokeResult.self) { group in
                for _ in 0..<12 {
                    group.addTask { await pool.invoke(Invocation(payload: Array("sleep 400".utf8))) }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let completed = results.filter { $0.report?.responseText == "slept" }.count
            let throttled = results.filter { if case .throttled(let throttle) = $0 { throttle.reason == .concurrencyLimitReached(limit: 3) } else { false } }.count
            #expect(completed == 3)
            #expect(throttled == 9)
            #expect(pool.statistics.peakBusyInstances == 3)
            #expect(await pool.run("echo").outcome.isSuccess)
        }
    }

    @Test(arguments: Isolation.allCases)
    func pipelinedBatchSurvivesACrashInTheMiddle(_ isolation: Isolation) async throws {
        let events = isolation == .process
            ? ["echo", "count", "segfault", "echo", "count"]
            : ["echo", "count", "error x", "echo", "count"]
        try await PoolTesting.withPool(PoolTesting.faults(isolation, concurrency: 2)) { pool in
            let batch = events.map { Invocation(payload: Array($0.utf8)) }
            let results = await pool.invoke(batch: batch)
            #expect(results.count == 5)
            #expect(results[0].report?.responseText == "echo")
            #expect(results[1].report?.responseText == "2")
            #expect(results[2].report?.outcome.isSuccess == false)
            #expect(results[3].report?.responseText == "echo")
            // After a crash the rest runs on a fresh instance, whose count starts again.
            #expect(results[4].report?.responseText == (isolation == .process ? "2" : "5"))
            for (result, invocation) in zip(results, batch) { #expect(result.report?.requestID == invocation.requestID) }
        }
    }
}
