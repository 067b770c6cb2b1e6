import Yams

/// What protects `chute serve`'s HTTP listener, from the configuration file's `server:` section:
///
/// ```yaml
/// server: {maxConnections: 4096, idleTimeoutSeconds: 60, shutdownGraceSeconds: 30}
/// ```
public struct ServerLimits: Sendable, Hashable {
    /// Most connections open at once; nil picks half the process's descriptor limit, at most
    /// 4096, so the store, workers and pipes always have descriptors left.
    public var maxConnections: Int?
    /// Seconds a keep-alive connection may sit without a request in progress before it is closed.
    public var idleTimeoutSeconds: Int
    /// Seconds SIGTERM or SIGINT waits for requests and attempts in flight before the host stops
    /// at once (what is not finished runs again after a restart).
    public var shutdownGraceSeconds: Int

    public init(maxConnections: Int? = nil, idleTimeoutSeconds: Int = 60, shutdownGraceSeconds: Int = 30) {
        self.maxConnections = maxConnections
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.shutdownGraceSeconds = shutdownGraceSeconds
    }

    public static let maxConnectionsRange = 16...65_536
    public static let idleTimeoutRange = 1...3_600
    public static let shutdownGraceRange = 1...3_600
}

extension ConfigurationFile {
    static func parseServer(_ node: Node, problems: inout [String]) -> ServerLimits {
        var limits = ServerLimits()
        guard let fields = fields(node, "server", allowed: ["maxConnections", "idleTimeoutSeconds", "shutdownGraceSeconds"],
                                  problems: &problems) else { return limits }
        if let value = fields["maxConnections"] {
            let range = ServerLimits.maxConnectionsRange
            if let number = value.int, range.contains(number) { limits.maxConnections = number } else {
                problems.append("\(at(value)): server.maxConnections: must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
        }
        if let value = fields["idleTimeoutSeconds"] {
            let range = ServerLimits.idleTimeoutRange
            if let number = value.int, range.contains(number) { limits.idleTimeoutSeconds = number } else {
                problems.append("\(at(value)): server.idleTimeoutSeconds: must be a whole number of seconds from \(range.lowerBound) to \(range.upperBound)")
            }
        }
        if let value = fields["shutdownGraceSeconds"] {
            let range = ServerLimits.shutdownGraceRange
            if let number = value.int, range.contains(number) { limits.shutdownGraceSeconds = number } else {
                problems.append("\(at(value)): server.shutdownGraceSeconds: must be a whole number of seconds from \(range.lowerBound) to \(range.upperBound)")
            }
        }
        return limits
    }
}
