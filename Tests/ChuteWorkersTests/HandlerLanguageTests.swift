import ChuteCore
import ChuteTestSupport
import ChuteWorkers
import Testing

/// The example handlers in C++, Rust and Swift (examples/handlers), built by the tests and run
/// through both isolation modes.
@Suite struct HandlerLanguageTests {
    private func configuration(_ name: String, library: String, _ isolation: Isolation, initConfig: String = "") -> FunctionConfiguration {
        FunctionConfiguration(name: name, library: library, isolation: isolation, concurrency: 2,
                              prewarmInstances: isolation == .process ? 1 : 0, initConfig: Array(initConfig.utf8))
    }

    @Test(arguments: Isolation.allCases)
    func cplusplus(_ isolation: Isolation) async throws {
        let library = try Fixtures.compileCXX("wordcount", sourceFile: Fixtures.packageRoot + "/examples/handlers/cpp/wordcount.cpp")
        try await PoolTesting.withPool(configuration("wordcount", library: library, isolation, initConfig: "words")) { pool in
            let report = await pool.run("one two three\nfour")
            #expect(report.responseText == #"{"words":4,"lines":2}"#)
            #expect(report.logTail.contains { $0.contains("counted 4 words") })
            let empty = await pool.run("")
            #expect(empty.outcome.functionErrorKind == "Handled")
            #expect(empty.outcome.error?.errorType == "EmptyEvent")
        }
    }

    @Test(arguments: Isolation.allCases)
    func rust(_ isolation: Isolation) async throws {
        let library = try Fixtures.buildRustExample()
        try await PoolTesting.withPool(configuration("reverse", library: library, isolation)) { pool in
            let report = await pool.run("hello", requestID: "abcd1234-0000-4000-8000-000000000000")
            #expect(report.responseText == "abcd1234:olleh")
            let invalid = await pool.invoke(Invocation(payload: [0xff, 0xfe]))
            #expect(invalid.report?.outcome.error?.errorType == "InvalidUtf8")
            #expect(invalid.report?.outcome.functionErrorKind == "Handled")
            if isolation == .process {
                // panic = "abort": a panic ends the worker, never unwinds into the host.
                let panicked = await pool.run("panic")
                #expect(panicked.outcome.error?.errorType == "Runtime.ExitError")
                #expect(panicked.outcome.error?.errorMessage.hasSuffix("signal: aborted") == true)
                #expect(await pool.run("again").responseText?.hasSuffix(":niaga") == true)
            }
        }
    }

    @Test(arguments: Isolation.allCases)
    func swiftSDK(_ isolation: Isolation) async throws {
        let library = Fixtures.product("libSwiftGreeter.so")
        try await PoolTesting.withPool(configuration("greeter", library: library, isolation)) { pool in
            let report = await pool.invoke(Invocation(requestID: "r-1", attempt: 2, payload: Array(#"{"name":"Ada"}"#.utf8))).report
            #expect(report?.responseText == #"{"attempt":2,"message":"Hello, Ada!"}"#)
            #expect(report?.logTail.contains { $0.contains("greeting Ada") } == true)
            let empty = await pool.run(#"{"name":""}"#)
            #expect(empty.outcome.error == FunctionError(errorType: "EmptyName", errorMessage: "say who to greet"))
            let invalid = await pool.run("not json")
            #expect(invalid.outcome.error?.errorType == "InvalidEvent")
            #expect(invalid.outcome.functionErrorKind == "Handled")
        }
    }
}
