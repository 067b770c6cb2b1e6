import ChuteCore
import ChuteTestSupport
import ChuteWorkers
import Logging

enum PoolTesting {
    static let logger: Logger = {
        var logger = Logger(label: "chute.tests")
        logger.logLevel = .critical
        return logger
    }()

    static func faults(_ isolation: Isolation, timeout: Double = 3, concurrency: Int = 4, prewarm: Int = 1, initConfig: String = "",
                       memoryMB: Int = 128, initTimeout: Double = 10, environment: [String: String] = [:]) -> FunctionConfiguration {
        FunctionConfiguration(name: "faults", library: Fixtures.faultsLibrary, isolation: isolation, timeoutSeconds: timeout,
                              initTimeoutSeconds: initTimeout, memoryMB: memoryMB, concurrency: concurrency,
                              prewarmInstances: isolation == .process ? min(prewarm, concurrency) : 0, initConfig: Array(initConfig.utf8),
                              environment: environment)
    }

    static func withPool<T>(_ configuration: FunctionConfiguration, _ body: (any FunctionPool) async throws -> T) async throws -> T {
        let pool = try await FunctionPools.start(configuration, logger: logger)
        do {
            let result = try await body(pool)
            await pool.shutdown()
            return result
        } catch {
            await pool.shutdown()
            throw error
        }
    }
}

extension FunctionPool {
    func run(_ event: String, requestID: String = RequestID.make()) async -> InvocationReport {
        let result = await invoke(Invocation(requestID: requestID, payload: Array(event.utf8)))
        guard case .completed(let report) = result else {
            return InvocationReport(requestID: requestID, attempt: 1,
                                    outcome: .unhandled(FunctionError(errorType: "Test.Throttled", errorMessage: "\(result)")), durationNanoseconds: 0)
        }
        return report
    }
}

extension InvocationReport {
    var responseText: String? {
        if case .success(let bytes) = outcome { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }
}
