import ChuteCore
import ChuteTestSupport
import ChuteWorkers
import Foundation
import Testing

/// Every outcome class, in both isolation modes where the mode can survive it.
@Suite(.serialized) struct OutcomeClassificationTests {
    @Test(arguments: Isolation.allCases)
    func successReturnsTheResponse(_ isolation: Isolation) async throws {
        try await PoolTesting.withPool(PoolTesting.faults(isolation)) { pool in
            let report = await pool.run("{\"action\":\"echo\"}", requestID: "r-1")
            #expect(report.outcome == .success(response: Array("{\"action\":\"echo\"}".utf8)))
            #expect(report.requestID == "r-1")
            if isolation == .process { #expect((report.peakMemoryBytes ?? 0) > 0) }
        }
    }

    @Test(arguments: Isolation.allCases)
    func handledErrorIsHandled(_ isolation: Isolation) async throws {
        try await PoolTesting.withPool(PoolTesting.faults(isolation)) { pool in
            let report = await pool.run("error disk full")
            #expect(report.outcome == .handled(FunctionError(errorType: "FaultInjected", errorMessage: "disk full",
                                                             stackTrace: ["faults.c:chute_handle", "faults.c:error"])))
        }
    }

    @Test(arguments: Isolation.allCases)
    func invalidStatusIsUnhandled(_ isolation: Isolation) async throws {
        try await PoolTesting.withPool(PoolTesting.faults(isolation)) { pool in
            let report = await pool.run("status 42", requestID: "r-2")
            #expect(report.outcome.functionErrorKind == "Unhandled")
            #expect(report.outcome.error?.errorType == "Runtime.InvalidStatus")
        }
    }

    @Test(arguments: Isolation.allCases)
    func initFailureIsAnInitError(_ isolation: Isolation) async throws {
        try await PoolTesting.withPool(PoolTesting.faults(isolation, initConfig: "fail")) { pool in
            let report = await pool.run("echo", requestID: "r-3")
            #expect(report.outcome.error?.errorType == "Runtime.InitError")
            #expect(report.outcome.error?.errorMessage == "RequestId: r-3 Error: InitConfigRejected: init was told to fail")
        }
    }

    @Test(arguments: [
        ("segfault", "signal: segmentation fault"),
        ("abort", "signal: aborted"),
        ("bus", "signal: bus error"),
        ("fpe", "signal: floating point exception"),
        ("ill", "signal: illegal instruction"),
        ("recurse", "signal: segmentation fault"),
        ("exit 3", "exit status 3"),
        ("exit 0", "Runtime exited without providing a reason"),
    ])
    func processCrashesAreExitErrors(_ event: String, _ expected: String) async throws {
        try await PoolTesting.withPool(PoolTesting.faults(.process)) { pool in
            let report = await pool.run(event, requestID: "crash-1")
            #expect(report.outcome.functionErrorKind == "Unhandled")
            #expect(report.outcome.error?.errorType == "Runtime.ExitError")
            let message = report.outcome.error?.errorMessage ?? ""
            #expect(message.hasPrefix("RequestId: crash-1 Error: "))
            #expect(message.hasSuffix(expected), "\(message)")
            // The worker was replaced; the function still works.
            #expect(await pool.run("echo").outcome.isSuccess)
            #expect(pool.statistics.workerExits == 1)
        }
    }

    @Test func processInitCrashIsAnInitError() async throws {
        try await PoolTesting.withPool(PoolTesting.faults(.process, prewarm: 0, initConfig: "crash")) { pool in
            let report = await pool.run("echo", requestID: "r-4")
            #expect(report.outcome.error?.errorType == "Runtime.InitError")
            #expect(report.outcome.error?.errorMessage == "RequestId: r-4 Error: init failed: Runtime exited with error: signal: segmentation fault")
        }
    }

    @Test func processMemoryLimitKillsTheWorker() async throws {
        try await PoolTesting.withPool(PoolTesting.faults(.process, memoryMB: 128)) { pool in
            let report = await pool.run("alloc 200", requestID: "oom")
            #expect(report.outcome.error?.errorType == "Runtime.ExitError")
            #expect(report.outcome.error?.errorMessage == "RequestId: oom Error: Runtime exited with error: signal: killed")
            #expect(report.memoryLimitExceeded)
            let small = await pool.run("alloc 16")
            #expect(small.responseText == "allocated")
            #expect((small.peakMemoryBytes ?? 0) >= 16 << 20)
        }
    }

    @Test func processOutputIsCapturedWithTheRequest() async throws {
        try await PoolTesting.withPool(PoolTesting.faults(.process)) { pool in
            let report = await pool.run("print hello-world")
            #expect(report.logTail.contains("stdout: hello-world"))
            #expect(report.logTail.contains("stderr: hello-world"))
            let logged = await pool.run("log via-host-api")
            #expect(logged.logTail == ["INFO via-host-api"])
        }
    }

    @Test func processEnvironmentReachesTheHandler() async throws {
        try await PoolTesting.withPool(PoolTesting.faults(.process, environment: ["GREETING": "bonjour"])) { pool in
            #expect(await pool.run("env GREETING").responseText == "bonjour")
        }
    }

    @Test func threadLogIsCaptured() async throws {
        try await PoolTesting.withPool(PoolTesting.faults(.thread)) { pool in
            #expect(await pool.run("log in-thread").logTail == ["INFO in-thread"])
        }
    }
}
