import ChuteABI
import Logging
import Synchronization

/// Where a function's handler output goes: every line to the host's logger, tagged with the
/// request id, and the last lines of each call into the report's bounded log tail.
final class InvocationLog: @unchecked Sendable {
    let logger: Logger
    let tailLimitBytes: Int

    init(logger: Logger, tailLimitBytes: Int = 4096) {
        self.logger = logger
        self.tailLimitBytes = tailLimitBytes
    }

    func emit(requestID: String, level: Int32, source: String, line: String) {
        var logger = logger
        logger[metadataKey: "requestId"] = .string(requestID)
        logger[metadataKey: "handler.output"] = .string(source)
        logger.log(level: Self.level(level), "\(line)")
    }

    static func level(_ level: Int32) -> Logger.Level {
        switch level {
        case ...0: .trace
        case 1: .debug
        case 2: .info
        case 3: .warning
        default: .error
        }
    }

    static func label(_ level: Int32) -> String {
        switch level {
        case ...0: "TRACE"
        case 1: "DEBUG"
        case 2: "INFO"
        case 3: "WARN"
        default: "ERROR"
        }
    }
}

/// The last lines of one call, bounded in bytes.
struct LogTail: Sendable {
    private(set) var lines: [String] = []
    private var bytes = 0
    let limit: Int

    init(limit: Int) { self.limit = limit }

    mutating func append(_ line: String) {
        lines.append(line)
        bytes += line.utf8.count + 1
        while bytes > limit, lines.count > 1 {
            bytes -= lines.removeFirst().utf8.count + 1
        }
    }

    mutating func take() -> [String] {
        defer {
            lines.removeAll(keepingCapacity: true)
            bytes = 0
        }
        return lines
    }
}

/// A log sink for thread isolation: lines go straight to the function's log, and into a tail.
final class ThreadLogSink: HandlerLogSink, @unchecked Sendable {
    let log: InvocationLog
    var tail: LogTail

    init(log: InvocationLog) {
        self.log = log
        self.tail = LogTail(limit: log.tailLimitBytes)
    }

    func handlerLog(requestID: String, level: Int32, line: UnsafeRawBufferPointer) {
        let text = String(decoding: line, as: UTF8.self)
        tail.append("\(InvocationLog.label(level)) \(text)")
        log.emit(requestID: requestID, level: level, source: "log", line: text)
    }
}
