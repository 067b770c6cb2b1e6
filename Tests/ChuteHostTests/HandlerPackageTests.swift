import ChuteCore
import ChuteHost
import ChuteTestSupport
import ChuteWorkers
import Foundation
import Logging
import Testing
import ZIPFoundation

@Suite struct HandlerPackageTests {
    @Test func aPackagedSwiftHandlerRunsFromItsZip() async throws {
        let directory = Fixtures.scratch + "/package-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let zip = directory + "/greeter.zip"
        let summary = try HandlerPackage.create(library: Fixtures.product("libSwiftGreeter.so"), functionName: nil, output: zip)
        #expect(summary.moduleName == "swift-greeter")
        #expect(summary.handlerField == "libSwiftGreeter.so:chute_handle")

        let unpacked = directory + "/unpacked"
        try FileManager.default.unzipItem(at: URL(fileURLWithPath: zip), to: URL(fileURLWithPath: unpacked))
        let file = try ConfigurationFile.load(path: unpacked + "/chute.yaml")
        let function = try #require(file.functions.first)
        #expect(function.name == "swift-greeter")
        #expect(function.library.hasPrefix(unpacked) && function.library.hasSuffix("/libSwiftGreeter.so"))

        var logger = Logger(label: "chute.tests")
        logger.logLevel = .critical
        let pool = try await FunctionPools.start(function, logger: logger)
        let result = await pool.invoke(Invocation(payload: Array(#"{"name":"zip"}"#.utf8)))
        await pool.shutdown()
        guard case .success(let response) = result.report?.outcome else {
            Issue.record("expected a success, got \(result)")
            return
        }
        #expect(String(decoding: response, as: UTF8.self) == #"{"attempt":1,"message":"Hello, zip!"}"#)
    }

    @Test func aLibraryThatIsNotAChuteModuleIsRefusedByName() throws {
        let library = try Fixtures.compileC("plainlib", source: "int plain(void) { return 1; }\n")
        let error = try #require(throws: PackageError.self) {
            try HandlerPackage.create(library: library, functionName: "plain", output: Fixtures.scratch + "/plain.zip")
        }
        #expect(error.description.contains(library))
        #expect(error.description.contains("chute_module"))
    }
}
