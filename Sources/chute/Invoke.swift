import ArgumentParser
import ChuteCore
import ChuteHost
import ChuteWorkers
import Foundation
import Logging

/// `chute invoke`: one invocation, from a configuration file or from flags.
struct Invoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one invocation and print the response, or the error JSON with a non-zero exit.",
        discussion: """
            Exit status: 0 success, 1 Handled error, 2 Unhandled error, 3 throttled, 64 bad usage or configuration.
            Examples:
              chute invoke --library .build/debug/libChuteFaults.so --event '{"action":"segfault"}'
              chute invoke --library libm.so.6 --handler 'hypot(double,double)->double' --isolation thread --event '[3,4]'
              chute invoke --config examples/chute.yaml --function hypot --event '[3,4]'
            """)

    @Option(help: "A configuration file (YAML or JSON) declaring functions.") var config: String?
    @Option(help: "The function to run from --config.") var function: String?
    @Option(help: "A handler library (instead of --config).") var library: String?
    @Option(help: "Entry point symbol, or a declared signature such as 'hypot(double,double)->double'.") var handler = HandlerReference.defaultSymbol
    @Option(help: "process (default) or thread.") var isolation = Isolation.process.rawValue
    @Option(help: "Timeout in seconds (1-900).") var timeout = FunctionLimits.defaultTimeoutSeconds
    @Option(help: "Memory limit in MB (128-10240).") var memory = FunctionLimits.defaultMemoryMB
    @Option(name: .customLong("init-config"), help: "Bytes passed to chute_init.") var initConfig: String?
    @Option(help: "The event, as text (JSON usually).") var event: String?
    @Option(name: .customLong("event-file"), help: "Read the event from a file ('-' for standard input).") var eventFile: String?
    @Option(name: .customLong("request-id"), help: "Request id (default: a new UUID).") var requestID: String?
    @Option(help: "Attempt number passed to the handler.") var attempt = 1
    @Option(name: .customLong("log-level"), help: "Host log level (trace, debug, info, warning, error).") var logLevel = "warning"
    @Flag(help: "Print the report (duration, memory, log lines) to standard error.") var verbose = false

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: logLevel) ?? .warning
            return handler
        }
        let functionConfiguration = try resolveFunction()
        let payload = try readEvent()
        let pool: any FunctionPool
        do {
            pool = try await FunctionPools.start(functionConfiguration, logger: Logger(label: "chute"))
        } catch {
            FileHandle.standardError.write(Data("chute: cannot load function \(functionConfiguration.name): \(error)\n".utf8))
            throw ExitCode(64)
        }
        let result = await pool.invoke(Invocation(requestID: requestID ?? RequestID.make(), attempt: attempt, payload: payload))
        await pool.shutdown()
        switch result {
        case .throttled(let throttle):
            FileHandle.standardError.write(Data("chute: throttled: \(throttle)\n".utf8))
            throw ExitCode(3)
        case .completed(let report):
            if verbose { printReport(report) }
            switch report.outcome {
            case .success(let response):
                FileHandle.standardOutput.write(Data(response))
                if isatty(1) != 0 && response.last != UInt8(ascii: "\n") { print() }
            case .handled(let error), .unhandled(let error):
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(error), as: UTF8.self))
                throw ExitCode(report.outcome.functionErrorKind == "Handled" ? 1 : 2)
            }
        }
    }

    private func resolveFunction() throws -> FunctionConfiguration {
        if let config {
            let file: ConfigurationFile
            do { file = try ConfigurationFile.load(path: config) } catch {
                FileHandle.standardError.write(Data("chute: \(error)\n".utf8))
                throw ExitCode(64)
            }
            let names = file.functions.map(\.name)
            guard let name = function ?? (names.count == 1 ? names[0] : nil) else {
                throw ValidationError("\(config) declares \(names.count) functions (\(names.joined(separator: ", "))); choose one with --function")
            }
            guard let found = file.functions.first(where: { $0.name == name }) else {
                throw ValidationError("\(config) declares no function '\(name)'; it has \(names.joined(separator: ", "))")
            }
            return found
        }
        guard let library else { throw ValidationError("give --config FILE (with --function) or --library PATH") }
        let reference: HandlerReference
        do { reference = try HandlerReference.parse(handler) } catch { throw ValidationError("--handler: \(error.message)") }
        guard let mode = Isolation(rawValue: isolation) else { throw ValidationError("--isolation must be process or thread, got '\(isolation)'") }
        let baseName = ((library as NSString).lastPathComponent as NSString).deletingPathExtension
        let name = String(baseName.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" }.prefix(64))
        let configuration = FunctionConfiguration(
            name: name.isEmpty ? "function" : name, library: library, handler: reference, isolation: mode, timeoutSeconds: timeout,
            memoryMB: memory, concurrency: 1, prewarmInstances: mode == .process ? 1 : 0, initConfig: Array((initConfig ?? "").utf8))
        let problems = configuration.validationProblems()
        guard problems.isEmpty else {
            throw ValidationError(problems.map { "--\($0.field): \($0.problem)" }.joined(separator: "\n"))
        }
        return configuration
    }

    private func readEvent() throws -> [UInt8] {
        if let event { return Array(event.utf8) }
        guard let eventFile else { return Array("{}".utf8) }
        if eventFile == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
        guard let data = FileManager.default.contents(atPath: eventFile) else {
            throw ValidationError("--event-file: cannot read \(eventFile)")
        }
        return Array(data)
    }

    private func printReport(_ report: InvocationReport) {
        var lines = ["REPORT RequestId: \(report.requestID) Attempt: \(report.attempt) Duration: \(String(format: "%.3f", Double(report.durationNanoseconds) / 1e6)) ms"]
        if let peak = report.peakMemoryBytes { lines[0] += " Max Memory Used: \(peak / 1_048_576) MB" }
        if let kind = report.outcome.functionErrorKind { lines[0] += " FunctionError: \(kind)" }
        lines += report.logTail.map { "LOG \($0)" }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
