import ChuteHost
import Glibc
import Logging

/// How many connections the listener may hold, from the process's descriptor limit: the store,
/// the workers' pipes and sockets, unpacked code and logs need descriptors too.
enum DescriptorBudget {
    /// Raises the soft descriptor limit to the hard one, as servers do at start (many systems
    /// default the soft one to 1024), and returns the soft limit now in force.
    static func raiseSoftLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = min(limit.rlim_max, 1 << 20)
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: min(limit.rlim_cur, 1 << 20))  // RLIM_INFINITY is the largest value
    }

    /// How the descriptors are shared: connections get at most half (by default no more than
    /// 4096), 256 stay for the store, logs and the like, and the rest goes to functions (a zygote
    /// holds 3) and worker processes (2 each), each within its own default cap.
    struct Shares: Sendable, Hashable {
        var connections: Int
        var functions: Int
        var instances: Int
    }

    static func shares(_ limits: ServerLimits, descriptorLimit: Int, logger: Logger) -> Shares {
        let connections = connectionCap(limits, descriptorLimit: descriptorLimit, logger: logger)
        let ceiling = ConnectionLimiter(limit: connections).acceptCeiling
        let rest = max(64, descriptorLimit - ceiling - 256)
        let functions = limits.maxFunctions ?? max(8, min(500, rest / 16))
        let instances = limits.maxInstances ?? max(8, min(512, (rest - 3 * functions) / 2))
        return Shares(connections: connections, functions: functions, instances: instances)
    }

    /// At most half the descriptors go to connections; by default no more than 4096 either.
    static func connectionCap(_ limits: ServerLimits, descriptorLimit: Int, logger: Logger) -> Int {
        let allowed = max(16, descriptorLimit / 2)
        guard let configured = limits.maxConnections else { return min(4096, allowed) }
        if configured > allowed {
            logger.warning("server.maxConnections \(configured) is more than half the descriptor limit (\(descriptorLimit)); using \(allowed)")
            return allowed
        }
        return configured
    }
}
