import CChuteABI

/// What the host tells a handler about the invocation it runs. It refers to the host's call, so it
/// is valid only during that call: do not keep it.
public struct ChuteContext {
    let host: UnsafePointer<chute_host_api>
    let call: OpaquePointer

    init(host: UnsafePointer<chute_host_api>, call: OpaquePointer) {
        self.host = host
        self.call = call
    }

    private var raw: chute_context? { host.pointee.context(call)?.pointee }

    /// The invocation's request id (the same on every retry of an event).
    public var requestID: String { string(raw?.request_id) }
    /// 1 for the first attempt, 2 for the first retry, and so on.
    public var attempt: Int { Int(raw?.attempt ?? 0) }
    public var functionName: String { string(raw?.function_name) }
    public var functionARN: String { string(raw?.function_arn) }
    public var functionVersion: String { string(raw?.function_version) }
    public var memoryLimitMB: Int { Int(raw?.memory_limit_mb ?? 0) }

    /// Milliseconds left before the invocation times out.
    public var remainingMilliseconds: Int64 { host.pointee.remaining_time_ms(call) }

    /// True once the host gave up on this invocation (thread isolation, after a timeout).
    public var isCancelled: Bool { host.pointee.is_cancelled(call) != 0 }

    /// Writes a line to the host's log, tagged with the request id.
    public func log(_ line: String, level: LogLevel = .info) {
        var line = line
        line.withUTF8 { bytes in
            host.pointee.log(call, level.rawValue, bytes.baseAddress, bytes.count)
        }
    }

    public enum LogLevel: Int32, Sendable {
        case trace = 0, debug, info, warn, error
    }

    private func string(_ pointer: UnsafePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? ""
    }
}
