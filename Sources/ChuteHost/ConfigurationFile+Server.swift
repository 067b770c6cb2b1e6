import Yams

/// What protects `chute serve`'s HTTP listener, from the configuration file's `server:` section:
///
/// ```yaml
/// server: {maxConnections: 4096, idleTimeoutSeconds: 60}
/// ```
public struct ServerLimits: Sendable, Hashable {
    /// Most connections open at once; nil picks half the process's descriptor limit, at most
    /// 4096, so the store, workers and pipes always have descriptors left.
    public var maxConnections: Int?
    /// Seconds a keep-alive connection may sit without a request in progress before it is closed.
    public var idleTimeoutSeconds: Int

    public init(maxConnections: Int? = nil, idleTimeoutSeconds: Int = 60) {
        self.maxConnections = maxConnections
        self.idleTimeoutSeconds = idleTimeoutSeconds
    }

    public static let maxConnectionsRange = 16...65_536
    public static let idleTimeoutRange = 1...3_600
}

extension ConfigurationFile {
    static func parseServer(_ node: Node, problems: inout [String]) -> ServerLimits {
        var limits = ServerLimits()
        guard let fields = fields(node, "server", allowed: ["maxConnections", "idleTimeoutSeconds"], problems: &problems) else { return limits }
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
        return limits
    }
}
