import ChuteCore
import Testing

@Suite struct DeclaredSignatureTests {
    @Test func parsesTheHypotExample() throws {
        let signature = try DeclaredSignature.parse("hypot(double,double)->double")
        #expect(signature == DeclaredSignature(symbol: "hypot", parameters: [.double, .double], returnType: .double))
        #expect(signature.description == "hypot(double,double)->double")
    }

    @Test func parsesFreeFunctionAndVoid() throws {
        #expect(try DeclaredSignature.parse("label(int32)->cstring@release").freeFunction == "release")
        #expect(try DeclaredSignature.parse("tick(void)->void").parameters.isEmpty)
        #expect(try DeclaredSignature.parse("tick()->void").parameters.isEmpty)
    }

    @Test(arguments: [
        ("hypot(double,float)->double", "parameter 2 has unknown type 'float'"),
        ("hypot(double)", "has no return type"),
        ("9lives(int32)->int32", "is not a C symbol name"),
        ("f(int32)->bytes", "bytes is an argument type only"),
        ("f(int32)->int32@free", "a free function only applies to a cstring"),
        ("f(void,int32)->int32", "void is only allowed as the return type"),
    ])
    func rejectsWithAClearMessage(_ text: String, _ expected: String) {
        #expect(throws: ConfigurationError.self) { try DeclaredSignature.parse(text) }
        do {
            _ = try DeclaredSignature.parse(text)
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test func handlerFieldSplitsFileAndSymbol() throws {
        let (file, handler) = try HandlerReference.parseHandlerField("libthumbs.so:resize")
        #expect(file == "libthumbs.so")
        #expect(handler == .entryPoint(symbol: "resize"))
        let (math, declared) = try HandlerReference.parseHandlerField("libm.so.6:hypot(double,double)->double")
        #expect(math == "libm.so.6")
        #expect(declared.symbol == "hypot")
        #expect(throws: ConfigurationError.self) { try HandlerReference.parseHandlerField("no-colon") }
    }
}

@Suite struct DeclaredArgumentsTests {
    let signature = DeclaredSignature(symbol: "f", parameters: [.int32, .int64, .double, .bool, .cstring, .bytes], returnType: .void)

    @Test func decodesEveryType() throws {
        let event = Array(#"[1, 9007199254740993, 2.5, true, "hi", [0, 255]]"#.utf8)
        let values = try DeclaredArguments.decode(event: event, for: signature).get()
        #expect(values == [.int32(1), .int64(9_007_199_254_740_993), .double(2.5), .bool(true), .cstring(Array("hi".utf8)), .bytes([0, 255])])
    }

    @Test func rejectsOutOfRangeInt32() {
        let one = DeclaredSignature(symbol: "f", parameters: [.int32], returnType: .void)
        guard case .failure(let problem) = DeclaredArguments.decode(event: Array("[4294967296]".utf8), for: one) else {
            Issue.record("accepted an out-of-range int32")
            return
        }
        #expect(problem.message.contains("argument 1"))
    }

    @Test func encodesResults() throws {
        #expect(try DeclaredArguments.encode(result: .double(5)).get() == Array("5".utf8))
        #expect(try DeclaredArguments.encode(result: .double(0.1)).get() == Array("0.1".utf8))
        #expect(try DeclaredArguments.encode(result: .cstring(Array("a\"b".utf8))).get() == Array(#""a\"b""#.utf8))
        #expect(throws: DeclaredValueProblem.self) { try DeclaredArguments.encode(result: .double(.nan)).get() }
    }
}

@Suite struct RuntimeErrorsTests {
    @Test func timeoutMessageMatchesLambda() {
        let error = RuntimeErrors.timedOut(requestID: "abc", timeoutSeconds: 1)
        #expect(error == FunctionError(errorType: "Sandbox.Timedout", errorMessage: "RequestId: abc Error: Task timed out after 1.00 seconds"))
        #expect(RuntimeErrors.formatSeconds(2.5) == "2.50")
    }

    @Test func exitMessagesMatchLambda() {
        #expect(RuntimeErrors.exited(requestID: "r", reason: .signaled(signal: 11, coreDumped: false)).errorMessage
            == "RequestId: r Error: Runtime exited with error: signal: segmentation fault")
        #expect(RuntimeErrors.exited(requestID: "r", reason: .exited(status: 127)).errorMessage
            == "RequestId: r Error: Runtime exited with error: exit status 127")
        #expect(ExitReason.exited(status: 0).lambdaText == "Runtime exited without providing a reason")
    }

    @Test func requestIDsAreLowercaseUUIDs() {
        let id = RequestID.make()
        #expect(id.count == 36)
        #expect(id == id.lowercased())
        #expect(Array(id)[14] == "4")
        #expect("89ab".contains(Array(id)[19]))
        #expect(id.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
        #expect(id.allSatisfy { "0123456789abcdef-".contains($0) })
        #expect(RequestID.make() != id)
    }

    @Test func timeOrderedIDsSortByTheirMilliseconds() {
        let earlier = RequestID.makeTimeOrdered(milliseconds: 1_700_000_000_000)
        let later = RequestID.makeTimeOrdered(milliseconds: 1_700_000_000_001)
        #expect(earlier < later)
        #expect(earlier.hasPrefix("018bcfe5-6800-7"))  // 1_700_000_000_000 = 0x018bcfe56800
        #expect(earlier.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
        #expect("89ab".contains(Array(later)[19]))
    }
}

@Suite struct FunctionConfigurationTests {
    @Test func defaultsAreValid() {
        #expect(FunctionConfiguration(name: "f", library: "libf.so").validationProblems().isEmpty)
    }

    @Test func everyBadFieldIsNamed() {
        let bad = FunctionConfiguration(name: "bad name", library: "", timeoutSeconds: 0, memoryMB: 64, concurrency: 0, prewarmInstances: 5)
        let fields = bad.validationProblems().map(\.field)
        #expect(fields == ["name", "library", "timeout", "memory", "concurrency", "prewarm"])
    }
}
