import CChuteSys
import ChuteABI
import ChuteCore
import ChuteTestSupport
import Foundation
import Testing

final class CollectingSink: HandlerLogSink, @unchecked Sendable {
    var lines: [String] = []
    func handlerLog(requestID: String, level: Int32, line: UnsafeRawBufferPointer) {
        lines.append("\(requestID) \(level) \(String(decoding: line, as: UTF8.self))")
    }
}

/// Calls straight into a loaded module on the test's thread: what the host API records and how
/// each return is classified.
@Suite struct HandlerInstanceTests {
    let identity = FunctionIdentity(name: "faults", arn: "arn:aws:lambda:us-east-1:000000000000:function:faults", version: "$LATEST", memoryMB: 128)

    func run(_ event: String, callPath: EntryCallPath = .direct, responseLimit: Int = 1 << 20) throws -> (InvocationOutcome, CollectingSink) {
        let module = try HandlerModule.load(path: Fixtures.faultsLibrary, handler: .entryPoint(symbol: "chute_handle"), callPath: callPath)
        let sink = CollectingSink()
        let recorder = CallRecorder(function: identity, responseLimit: responseLimit, logSink: sink)
        let instance = HandlerInstance(module: module)
        let deadline = chute_monotonic_ns() + 3_000_000_000
        #expect(instance.initialize(config: [], recorder: recorder, deadlineNanoseconds: deadline, deadlineWallMilliseconds: chute_wall_ms() + 3000) == nil)
        let outcome = instance.invoke(Invocation(requestID: "req-1", attempt: 2, payload: Array(event.utf8)), recorder: recorder,
                                      deadlineNanoseconds: deadline, deadlineWallMilliseconds: chute_wall_ms() + 3000)
        instance.destroy()
        return (outcome, sink)
    }

    @Test(arguments: EntryCallPath.allCases)
    func echoSucceedsThroughBothCallPaths(_ path: EntryCallPath) throws {
        let (outcome, _) = try run("{\"action\":\"echo\",\"text\":\"hi\"}", callPath: path)
        #expect(outcome == .success(response: Array("{\"action\":\"echo\",\"text\":\"hi\"}".utf8)))
    }

    @Test func handledErrorCarriesTypeMessageAndStack() throws {
        let (outcome, _) = try run("error boom")
        #expect(outcome == .handled(FunctionError(errorType: "FaultInjected", errorMessage: "boom", stackTrace: ["faults.c:chute_handle", "faults.c:error"])))
    }

    @Test func unknownStatusIsInvalidStatus() throws {
        let (outcome, _) = try run("status 7")
        #expect(outcome.functionErrorKind == "Unhandled")
        #expect(outcome.error?.errorType == "Runtime.InvalidStatus")
        #expect(outcome.error?.errorMessage == "RequestId: req-1 Error: handler returned status 7; expected CHUTE_OK (0) or CHUTE_HANDLED_ERROR (1)")
    }

    @Test func handledWithoutDetails() throws {
        let (outcome, _) = try run("status 1")
        #expect(outcome == .handled(RuntimeErrors.missingErrorDetails))
    }

    @Test func oversizedResponseIsUnhandled() throws {
        let (outcome, _) = try run("big 5000", responseLimit: 4096)
        #expect(outcome.error?.errorType == "Function.ResponseSizeTooLarge")
    }

    @Test func contextReachesTheHandler() throws {
        let (outcome, _) = try run("context")
        guard case .success(let bytes) = outcome else {
            Issue.record("expected success, got \(outcome)")
            return
        }
        let json = try JSONSerialization.jsonObject(with: Data(bytes)) as! [String: Any]
        #expect(json["requestId"] as? String == "req-1")
        #expect(json["functionName"] as? String == "faults")
        #expect(json["functionArn"] as? String == identity.arn)
        #expect(json["attempt"] as? Int == 2)
        #expect(json["memoryLimitMB"] as? Int == 128)
        let remaining = json["remainingMs"] as? Int ?? 0
        #expect(remaining > 2000 && remaining <= 3000)
    }

    @Test func logLinesReachTheSinkWithTheRequestID() throws {
        let (_, sink) = try run("log hello-there")
        #expect(sink.lines == ["req-1 2 hello-there"])
    }

    @Test func inspectListsModuleInfoAndHooks() throws {
        let (info, hooks) = try HandlerModule.inspect(path: Fixtures.faultsLibrary)
        #expect(info.name == "chute-faults")
        #expect(info.version == "1.0.0")
        #expect(info.abiMajor == 1 && info.abiMinor == 0)
        #expect(hooks == ["chute_module", "chute_init", "chute_handle", "chute_destroy"])
    }
}

/// Drop-in plain C functions with a declared signature, called through libffi.
@Suite struct DeclaredSignatureCallTests {
    func call(_ library: String, _ signature: String, _ event: String) throws -> InvocationOutcome {
        let module = try HandlerModule.load(path: library, handler: .declared(try DeclaredSignature.parse(signature)))
        let recorder = CallRecorder(function: FunctionIdentity(name: "f", arn: "arn", version: "$LATEST", memoryMB: 128), responseLimit: 1 << 20, logSink: CollectingSink())
        return HandlerInstance(module: module).invoke(Invocation(requestID: "r", payload: Array(event.utf8)), recorder: recorder,
                                                      deadlineNanoseconds: .max, deadlineWallMilliseconds: 0)
    }

    @Test func hypotFromLibm() throws {
        #expect(try call("libm.so.6", "hypot(double,double)->double", "[3,4]") == .success(response: Array("5".utf8)))
    }

    @Test func everyTypeRoundTrips() throws {
        let source = """
            #include <stdbool.h>
            #include <stdint.h>
            #include <stdlib.h>
            #include <string.h>
            int32_t add32(int32_t a, int32_t b) { return a + b; }
            int64_t mul64(int64_t a, int64_t b) { return a * b; }
            bool both(bool a, bool b) { return a && b; }
            size_t count_bytes(const uint8_t *p, size_t n, int32_t byte) { size_t c = 0; for (size_t i = 0; i < n; i++) c += p[i] == byte; return c; }
            int64_t count_wrapper(const uint8_t *p, size_t n, int32_t byte) { return (int64_t)count_bytes(p, n, byte); }
            char *shout(const char *s) { char *r = strdup(s); for (char *q = r; *q; q++) if (*q >= 'a' && *q <= 'z') *q -= 32; return r; }
            const char *maybe(int32_t x) { return x ? "yes" : NULL; }
            void nothing(void) {}
            double half(double x) { return x / 2; }
            """
        let path = try Fixtures.compileC("plain", source: source)
        #expect(try call(path, "add32(int32,int32)->int32", "[40,2]") == .success(response: Array("42".utf8)))
        #expect(try call(path, "mul64(int64,int64)->int64", "[4294967296,3]") == .success(response: Array("12884901888".utf8)))
        #expect(try call(path, "both(bool,bool)->bool", "[true,false]") == .success(response: Array("false".utf8)))
        #expect(try call(path, "count_wrapper(bytes,int32)->int64", "[\"banana\",97]") == .success(response: Array("3".utf8)))
        #expect(try call(path, "shout(cstring)->cstring@free", "[\"hello/world\"]") == .success(response: Array("\"HELLO/WORLD\"".utf8)))
        #expect(try call(path, "maybe(int32)->cstring", "[0]") == .success(response: Array("null".utf8)))
        #expect(try call(path, "nothing()->void", "[]") == .success(response: Array("null".utf8)))
        #expect(try call(path, "half(double)->double", "[3]") == .success(response: Array("1.5".utf8)))
    }

    @Test func badArgumentsAreAnUnhandledInvalidEvent() throws {
        let outcome = try call("libm.so.6", "hypot(double,double)->double", "[3,\"four\"]")
        #expect(outcome.error?.errorType == "Runtime.InvalidEvent")
        #expect(outcome.error?.errorMessage.contains("argument 2") == true)
        let wrongCount = try call("libm.so.6", "hypot(double,double)->double", "[3]")
        #expect(wrongCount.error?.errorMessage.contains("takes 2 argument(s); the event has 1") == true)
    }

    @Test func nonFiniteResultIsAnInvalidResponse() throws {
        let outcome = try call("libm.so.6", "log(double)->double", "[-1]")
        #expect(outcome.error?.errorType == "Runtime.InvalidResponse")
    }
}
