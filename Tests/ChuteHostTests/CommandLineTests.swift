import ChuteTestSupport
import Foundation
import Testing

/// The `chute` program itself: output, error JSON and exit codes, run as a user would.
@Suite struct CommandLineTests {
    private func chute(_ arguments: [String]) throws -> Fixtures.Captured {
        try Fixtures.capture(Fixtures.product("chute"), arguments)
    }

    private var faults: [String] { ["invoke", "--library", Fixtures.faultsLibrary] }

    @Test func successPrintsTheResponseAndExitsZero() throws {
        let run = try chute(faults + ["--event", "echo"])
        #expect(run.status == 0)
        #expect(run.stdout == "echo")
    }

    @Test func handledErrorExitsOneWithTheErrorJSON() throws {
        let run = try chute(faults + ["--event", "error boom"])
        #expect(run.status == 1)
        let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        #expect(json?["errorType"] as? String == "FaultInjected")
        #expect(json?["errorMessage"] as? String == "boom")
        #expect(json?["stackTrace"] is [Any])
    }

    @Test func crashExitsTwoWithLambdasMessage() throws {
        let run = try chute(faults + ["--event", "segfault", "--request-id", "cli-1"])
        #expect(run.status == 2)
        let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        #expect(json?["errorType"] as? String == "Runtime.ExitError")
        #expect(json?["errorMessage"] as? String == "RequestId: cli-1 Error: Runtime exited with error: signal: segmentation fault")
    }

    @Test func verboseReportsOnStandardError() throws {
        let run = try chute(faults + ["--event", "log hello", "--verbose"])
        #expect(run.status == 0)
        #expect(run.stderr.contains("REPORT RequestId: "))
        #expect(run.stderr.contains("hello"))
    }

    @Test func declaredSignatureFromTheCommandLine() throws {
        let run = try chute(["invoke", "--library", "libm.so.6", "--handler", "hypot(double,double)->double", "--isolation", "thread", "--event", "[3,4]"])
        #expect(run.status == 0)
        #expect(run.stdout == "5")
    }

    @Test func badConfigurationExits64NamingTheField() throws {
        let path = Fixtures.scratch + "/cli-bad.yaml"
        try "functions:\n  - name: f\n    library: x.so\n    timeout: 1000\n".write(toFile: path, atomically: true, encoding: .utf8)
        let run = try chute(["invoke", "--config", path, "--function", "f", "--event", "x"])
        #expect(run.status == 64)
        #expect(run.stderr.contains("line 4: functions[0].timeout: must be between 1 and 900 seconds"))
    }

    @Test func inspectPrintsModuleInfo() throws {
        let run = try chute(["inspect", Fixtures.faultsLibrary])
        #expect(run.status == 0)
        #expect(run.stdout.contains("abi:          1.0"))
        #expect(run.stdout.contains("chute_handle"))
    }

    @Test func inspectNamesAMissingFile() throws {
        let run = try chute(["inspect", "/nonexistent/libnothing.so"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("/nonexistent/libnothing.so"))
    }
}
