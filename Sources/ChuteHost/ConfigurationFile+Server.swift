import Yams

/// What protects `chute serve`'s HTTP listener, from the configuration file's `server:` section:
///
/// ```yaml
/// server: {maxConnections: 4096, idleTimeoutSeconds: 60, shutdownGraceSeconds: 30, maxFunctions: 500, maxInstances: 512}
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
    /// Most functions the API may create (each holds a process and descriptors); nil picks what
    /// the descriptors left after connections allow, at most 500.
    public var maxFunctions: Int?
    /// Most worker processes across functions; nil picks what the descriptors allow, at most 512.
    public var maxInstances: Int?

    public init(maxConnections: Int? = nil, idleTimeoutSeconds: Int = 60, shutdownGraceSeconds: Int = 30, maxFunctions: Int? = nil,
                maxInstances: Int? = nil) {
        self.maxConnections = maxConnections
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.shutdownGraceSeconds = shutdownGraceSeconds
        self.maxFunctions = maxFunctions
        self.maxInstances = maxInstances
    }

    public static let maxConnectionsRange = 16...65_536
    public static let idleTimeoutRange = 1...3_600
    public static let shutdownGraceRange = 1...3_600
    public static let maxFunctionsRange = 1...100_000
    public static let maxInstancesRange = 1...100_000
}

extension ConfigurationFile {
    static func parseServer(_ node: Node, problems: inout [String]) -> ServerLimits {
        var limits = ServerLimits()
        let allowed: Set<String> = ["maxConnections", "idleTimeoutSeconds", "shutdownGraceSeconds", "maxFunctions", "maxInstances"]
        guard let fields = fields(node, "server", allowed: allowed, problems: &problems) else { return limits }
        for (field, range) in [("maxFunctions", ServerLimits.maxFunctionsRange), ("maxInstances", ServerLimits.maxInstancesRange)] {
            guard let value = fields[field] else { continue }
            guard let number = value.int, range.contains(number) else {
                problems.append("\(at(value)): server.\(field): must be a whole number from \(range.lowerBound) to \(range.upperBound)")
                continue
            }
            if field == "maxFunctions" { limits.maxFunctions = number } else { limits.maxInstances = number }
        }
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
