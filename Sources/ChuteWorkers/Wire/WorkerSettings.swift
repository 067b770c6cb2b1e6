import ChuteABI
import ChuteCore

/// What the host tells a zygote in its `configure` frame.
struct WorkerSettings: Sendable, Hashable {
    var library: String
    var handler: String
    var callPath: EntryCallPath
    var identity: FunctionIdentity
    var initTimeoutNanoseconds: Int64
    var timeoutNanoseconds: Int64
    var maxResponseBytes: Int
    var initConfig: [UInt8]
    var environment: [String: String]
    var spinNanoseconds: Int64

    init(configuration: FunctionConfiguration, tuning: PoolTuning) {
        library = configuration.library
        handler = configuration.handler.description
        callPath = tuning.callPath
        identity = FunctionIdentity(configuration)
        initTimeoutNanoseconds = Int64(configuration.initTimeoutSeconds * 1e9)
        timeoutNanoseconds = Int64(configuration.timeoutSeconds * 1e9)
        maxResponseBytes = configuration.maxResponseBytes
        initConfig = configuration.initConfig
        environment = configuration.environment
        spinNanoseconds = tuning.workerSpinNanoseconds
    }

    func encode(into writer: inout WireWriter) {
        writer.frame(.configure) { w in
            w.string(library)
            w.string(handler)
            w.string(callPath.rawValue)
            w.string(identity.name)
            w.string(identity.arn)
            w.string(identity.version)
            w.u32(UInt32(identity.memoryMB))
            w.i64(initTimeoutNanoseconds)
            w.i64(timeoutNanoseconds)
            w.u64(UInt64(maxResponseBytes))
            w.blob(initConfig)
            w.u32(UInt32(environment.count))
            for (key, value) in environment.sorted(by: { $0.key < $1.key }) {
                w.string(key)
                w.string(value)
            }
            w.i64(spinNanoseconds)
        }
    }

    static func decode(_ reader: inout WireReader) -> WorkerSettings? {
        let library = reader.string()
        let handler = reader.string()
        let callPath = EntryCallPath(rawValue: reader.string()) ?? .direct
        let identity = FunctionIdentity(name: reader.string(), arn: reader.string(), version: reader.string(), memoryMB: Int(reader.u32()))
        let initTimeout = reader.i64()
        let timeout = reader.i64()
        let maxResponse = Int(clamping: reader.u64())
        let initConfig = reader.blob()
        var environment: [String: String] = [:]
        for _ in 0..<min(reader.u32(), 100_000) where !reader.isMalformed {
            let key = reader.string()
            environment[key] = reader.string()
        }
        let spin = reader.i64()
        guard !reader.isMalformed else { return nil }
        return WorkerSettings(library: library, handler: handler, callPath: callPath, identity: identity,
                              initTimeoutNanoseconds: initTimeout, timeoutNanoseconds: timeout, maxResponseBytes: maxResponse,
                              initConfig: initConfig, environment: environment, spinNanoseconds: spin)
    }

    private init(library: String, handler: String, callPath: EntryCallPath, identity: FunctionIdentity, initTimeoutNanoseconds: Int64,
                 timeoutNanoseconds: Int64, maxResponseBytes: Int, initConfig: [UInt8], environment: [String: String], spinNanoseconds: Int64) {
        self.library = library
        self.handler = handler
        self.callPath = callPath
        self.identity = identity
        self.initTimeoutNanoseconds = initTimeoutNanoseconds
        self.timeoutNanoseconds = timeoutNanoseconds
        self.maxResponseBytes = maxResponseBytes
        self.initConfig = initConfig
        self.environment = environment
        self.spinNanoseconds = spinNanoseconds
    }
}

/// The outcome encoding shared by the worker (writer) and the host (reader).
enum OutcomeWire {
    static func write(_ outcome: InvocationOutcome, durationNanoseconds: Int64, peakMemoryBytes: Int64, into writer: inout WireWriter) {
        writer.frame(.response) { w in
            switch outcome {
            case .success(let response):
                w.u8(0)
                w.i64(durationNanoseconds)
                w.i64(peakMemoryBytes)
                w.rest(response)
            case .handled(let error), .unhandled(let error):
                w.u8(outcome.isHandled ? 1 : 2)
                w.i64(durationNanoseconds)
                w.i64(peakMemoryBytes)
                writeError(error, into: &w)
            }
        }
    }

    static func read(_ reader: inout WireReader) -> (outcome: InvocationOutcome, durationNanoseconds: Int64, peakMemoryBytes: Int64)? {
        let kind = reader.u8()
        let duration = reader.i64()
        let peak = reader.i64()
        let outcome: InvocationOutcome
        switch kind {
        case 0: outcome = .success(response: reader.rest())
        case 1: outcome = .handled(readError(&reader))
        case 2: outcome = .unhandled(readError(&reader))
        default: return nil
        }
        return reader.isMalformed ? nil : (outcome, duration, peak)
    }

    static func writeError(_ error: FunctionError, into writer: inout WireWriter) {
        writer.string(error.errorType)
        writer.string(error.errorMessage)
        writer.u32(UInt32(error.stackTrace.count))
        error.stackTrace.forEach { writer.string($0) }
    }

    static func readError(_ reader: inout WireReader) -> FunctionError {
        let type = reader.string()
        let message = reader.string()
        var trace: [String] = []
        for _ in 0..<min(reader.u32(), 10_000) where !reader.isMalformed { trace.append(reader.string()) }
        return FunctionError(errorType: type, errorMessage: message, stackTrace: trace)
    }
}

extension InvocationOutcome {
    var isHandled: Bool {
        if case .handled = self { return true }
        return false
    }
}
