import ChuteABI
import ChuteCore
import ChuteTestSupport
import Foundation
import Testing

/// Every way a library can be unusable gets its own error code and a message naming the file or
/// symbol.
@Suite struct LoadErrorTests {
    func loadError(_ path: String, handler: HandlerReference = .entryPoint(symbol: "chute_handle")) -> HandlerLoadError? {
        do {
            _ = try HandlerModule.load(path: path, handler: handler)
            return nil
        } catch {
            return error
        }
    }

    /// A module whose chute_module() returns the given size and version.
    func moduleWithInfo(_ name: String, size: String, major: Int, minor: Int) throws -> String {
        try Fixtures.compileC(name, source: """
            #include "chute.h"
            const chute_module_info *chute_module(void) {
                static const chute_module_info info = {\(size), \(major), \(minor), 0, "\(name)", "1"};
                return &info;
            }
            int32_t chute_handle(const chute_host_api *h, chute_call *c, void *s, const uint8_t *e, size_t n) { return 0; }
            """)
    }

    @Test func missingFile() {
        let error = loadError("/nonexistent/libnothing.so")
        #expect(error?.code == .fileNotFound)
        #expect(error?.message.contains("/nonexistent/libnothing.so") == true)
    }

    @Test func notASharedObject() throws {
        let path = Fixtures.scratch + "/not-a-library.so"
        try "int main(void) { return 0; }\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = loadError(path)
        #expect(error?.code == .notSharedObject)
        #expect(error?.message.contains("not a shared object") == true)
    }

    @Test func executableIsNotASharedObject() throws {
        let path = try Fixtures.compileC("program", source: "int main(void) { return 0; }\n", flags: ["-no-pie"], fileName: "program")
        let error = loadError(path)
        #expect(error?.code == .notSharedObject)
        #expect(error?.message.contains("an executable") == true)
    }

    @Test func wrongArchitecture() throws {
        // A valid handler with its ELF machine field rewritten to aarch64.
        let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.faultsLibrary))
        var patched = original
        #if arch(x86_64)
        patched[18] = 183
        patched[19] = 0
        #else
        patched[18] = 62
        patched[19] = 0
        #endif
        let path = Fixtures.scratch + "/libforeign.so"
        try patched.write(to: URL(fileURLWithPath: path))
        let error = loadError(path)
        #expect(error?.code == .wrongArchitecture)
        #expect(error?.message.contains("is built for") == true)
    }

    @Test func unresolvableDependency() throws {
        let dependency = try Fixtures.compileC("gone", source: "int gone_value(void) { return 7; }\n")
        let source = """
            #include "chute.h"
            int gone_value(void);
            CHUTE_MODULE("needs-gone", "1", 0);
            int32_t chute_handle(const chute_host_api *h, chute_call *c, void *s, const uint8_t *e, size_t n) { return gone_value() == 7 ? 0 : 1; }
            """
        let path = try Fixtures.compileC("needsgone", source: source, flags: ["-shared", "-fPIC", "-L", Fixtures.scratch, "-lgone"])
        try FileManager.default.removeItem(atPath: dependency)
        let error = loadError(path)
        #expect(error?.code == .unresolvedDependency)
        #expect(error?.message.contains("libgone.so") == true)
    }

    @Test func unresolvableSymbol() throws {
        let source = """
            #include "chute.h"
            int defined_nowhere(void);
            CHUTE_MODULE("undefined", "1", 0);
            int32_t chute_handle(const chute_host_api *h, chute_call *c, void *s, const uint8_t *e, size_t n) { return defined_nowhere(); }
            """
        let path = try Fixtures.compileC("undefined", source: source)
        let error = loadError(path)
        #expect(error?.code == .unresolvedSymbol)
        #expect(error?.message.contains("defined_nowhere") == true)
    }

    @Test func missingModuleSymbol() throws {
        let path = try Fixtures.compileC("nomodule", source: """
            #include "chute.h"
            int32_t chute_handle(const chute_host_api *h, chute_call *c, void *s, const uint8_t *e, size_t n) { return 0; }
            """)
        let error = loadError(path)
        #expect(error?.code == .missingModuleSymbol)
        #expect(error?.message.contains("chute_module") == true)
    }

    @Test func missingEntrySymbol() throws {
        let path = try Fixtures.compileC("noentry", source: """
            #include "chute.h"
            CHUTE_MODULE("no-entry", "1", 0);
            """)
        let error = loadError(path, handler: .entryPoint(symbol: "resize"))
        #expect(error?.code == .missingEntrySymbol)
        #expect(error?.message.contains("'resize'") == true)
    }

    @Test func abiMajorMismatch() throws {
        let path = try moduleWithInfo("abi2", size: "sizeof(chute_module_info)", major: 2, minor: 0)
        let error = loadError(path)
        #expect(error?.code == .abiVersionMismatch)
        #expect(error?.message.contains("ABI 2.0") == true)
        #expect(error?.message.contains("ABI 1.0") == true)
    }

    @Test func abiMinorNewer() throws {
        let path = try moduleWithInfo("abi1_9", size: "sizeof(chute_module_info)", major: 1, minor: 9)
        let error = loadError(path)
        #expect(error?.code == .abiVersionMismatch)
        #expect(error?.message.contains("ABI 1.9") == true)
    }

    @Test func moduleInfoTooSmall() throws {
        let path = try moduleWithInfo("tiny", size: "8", major: 1, minor: 0)
        let error = loadError(path)
        #expect(error?.code == .moduleInfoTooSmall)
        #expect(error?.message.contains("8 bytes") == true)
    }

    @Test func missingDeclaredFunction() {
        let signature = try! DeclaredSignature.parse("no_such_function(double)->double")
        let error = loadError("libm.so.6", handler: .declared(signature))
        #expect(error?.code == .missingEntrySymbol)
        #expect(error?.message.contains("no_such_function") == true)
    }
}
