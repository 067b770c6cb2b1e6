import CChuteABI
import CChuteSys
import ChuteCore
import Glibc
import Synchronization

/// Where a handler's `log` lines go: the host's logger in thread isolation, the IPC channel in a
/// worker process.
public protocol HandlerLogSink: AnyObject, Sendable {
    /// Called on the handler's thread during the call. `line` is borrowed for the call.
    func handlerLog(requestID: String, level: Int32, line: UnsafeRawBufferPointer)
}

/// The host side of a `chute_call`: what the handler writes during one hook call.
///
/// One recorder belongs to one thread and is reused call after call, so a call allocates nothing
/// up front. The `chute_call *` a handler sees is this object's address. Only `cancelled` is
/// touched from other threads.
public final class CallRecorder: @unchecked Sendable {
    public enum Phase: Sendable { case idle, initializing, invoking }

    public private(set) var phase: Phase = .idle
    public private(set) var response: [UInt8] = []
    public private(set) var responseTooLarge = false
    public private(set) var error: FunctionError?
    public private(set) var requestID = ""
    var deadlineNanoseconds: Int64 = .max
    let responseLimit: Int
    public let logSink: any HandlerLogSink
    let cancelled = Atomic<Bool>(false)

    let context: UnsafeMutablePointer<chute_context>
    private var requestIDBuffer: UnsafeMutablePointer<CChar>
    private var requestIDCapacity = 64
    private let functionStrings: [UnsafeMutablePointer<CChar>]

    public init(function: FunctionIdentity, responseLimit: Int, logSink: any HandlerLogSink) {
        self.responseLimit = responseLimit
        self.logSink = logSink
        requestIDBuffer = .allocate(capacity: requestIDCapacity)
        requestIDBuffer[0] = 0
        functionStrings = [strdup(function.name)!, strdup(function.arn)!, strdup(function.version)!]
        context = .allocate(capacity: 1)
        context.initialize(to: chute_context(
            struct_size: UInt32(MemoryLayout<chute_context>.size), attempt: 0,
            request_id: UnsafePointer(requestIDBuffer), function_name: UnsafePointer(functionStrings[0]),
            function_arn: UnsafePointer(functionStrings[1]), function_version: UnsafePointer(functionStrings[2]),
            deadline_ms: 0, memory_limit_mb: UInt32(function.memoryMB), reserved: 0))
    }

    deinit {
        context.deallocate()
        requestIDBuffer.deallocate()
        functionStrings.forEach { free($0) }
    }

    /// The `chute_call *` handed to the handler.
    var callHandle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(_ handle: OpaquePointer) -> CallRecorder {
        Unmanaged<CallRecorder>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }

    /// Resets the recorder for a new hook call.
    func begin(_ phase: Phase, requestID: String, attempt: Int, deadlineNanoseconds: Int64, deadlineWallMilliseconds: Int64) {
        self.phase = phase
        response.removeAll(keepingCapacity: response.capacity <= 1 << 20)
        responseTooLarge = false
        error = nil
        self.requestID = requestID
        self.deadlineNanoseconds = deadlineNanoseconds
        cancelled.store(false, ordering: .relaxed)
        let utf8Count = requestID.utf8.count
        if utf8Count + 1 > requestIDCapacity {
            requestIDBuffer.deallocate()
            requestIDCapacity = utf8Count + 1
            requestIDBuffer = .allocate(capacity: requestIDCapacity)
        }
        _ = requestID.withCString { strcpy(requestIDBuffer, $0) }
        context.pointee.request_id = UnsafePointer(requestIDBuffer)
        context.pointee.attempt = UInt32(clamping: attempt)
        context.pointee.deadline_ms = deadlineWallMilliseconds
    }

    func end() { phase = .idle }

    /// Asks the running call to stop (`is_cancelled` returns 1). Safe from any thread.
    public func cancel() { cancelled.store(true, ordering: .releasing) }

    // MARK: Host API implementations

    func writeResponse(_ data: UnsafePointer<UInt8>?, _ length: Int) -> Int32 {
        guard phase == .invoking else { return CHUTE_E_WRONG_PHASE }
        guard length > 0 else { return CHUTE_OK }
        guard let data else { return CHUTE_E_INVALID_ARGUMENT }
        guard response.count + length <= responseLimit else {
            responseTooLarge = true
            return CHUTE_E_TOO_LARGE
        }
        response.append(contentsOf: UnsafeBufferPointer(start: data, count: length))
        return CHUTE_OK
    }

    func setError(type: UnsafePointer<CChar>?, message: UnsafePointer<CChar>?, stackTrace: UnsafePointer<CChar>?) -> Int32 {
        guard phase != .idle else { return CHUTE_E_WRONG_PHASE }
        guard let type, let message else { return CHUTE_E_INVALID_ARGUMENT }
        let trace = stackTrace.map { String(cString: $0).split(separator: "\n", omittingEmptySubsequences: true).map(String.init) } ?? []
        error = FunctionError(errorType: String(cString: type), errorMessage: String(cString: message), stackTrace: trace)
        return CHUTE_OK
    }

    func log(level: Int32, line: UnsafePointer<UInt8>?, length: Int) {
        guard phase != .idle, let line, length > 0 else { return }
        logSink.handlerLog(requestID: requestID, level: level, line: UnsafeRawBufferPointer(start: line, count: length))
    }

    func remainingMilliseconds() -> Int64 {
        let left = deadlineNanoseconds - chute_monotonic_ns()
        return left > 0 ? left / 1_000_000 : 0
    }

    func isCancelled() -> Bool {
        cancelled.load(ordering: .acquiring) || chute_monotonic_ns() >= deadlineNanoseconds
    }
}

/// What a recorder needs to know about the function it serves.
public struct FunctionIdentity: Sendable, Hashable {
    public var name: String
    public var arn: String
    public var version: String
    public var memoryMB: Int

    public init(name: String, arn: String, version: String, memoryMB: Int) {
        self.name = name
        self.arn = arn
        self.version = version
        self.memoryMB = memoryMB
    }

    public init(_ configuration: FunctionConfiguration) {
        self.init(name: configuration.name, arn: configuration.arn, version: configuration.version, memoryMB: configuration.memoryMB)
    }
}
