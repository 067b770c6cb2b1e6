/// Everything the runtime needs to load and run one function.
public struct FunctionConfiguration: Sendable, Hashable {
    public var name: String
    /// Path of the shared library (absolute, relative to the working directory, or a bare soname
    /// such as `libm.so.6` that the dynamic loader finds).
    public var library: String
    public var handler: HandlerReference
    public var isolation: Isolation
    /// Invocation time limit, in seconds (1 to 900, default 3).
    public var timeoutSeconds: Double
    /// Time limit of `chute_init`, in seconds (default 10).
    public var initTimeoutSeconds: Double
    /// Memory limit in MB (128 to 10240, default 128). Enforced per worker in process isolation.
    public var memoryMB: Int
    /// Most instances that may run at once; more concurrent invocations are throttled.
    public var concurrency: Int
    /// Instances started ahead of the first invocation (process isolation).
    public var prewarmInstances: Int
    /// Bytes passed to `chute_init`.
    public var initConfig: [UInt8]
    /// Largest response a handler may write (default 6 MB, as Lambda's synchronous limit).
    public var maxResponseBytes: Int
    /// Environment variables set in worker processes (process isolation only).
    public var environment: [String: String]
    public var region: String
    public var accountID: String
    public var version: String

    public init(
        name: String, library: String, handler: HandlerReference = .entryPoint(symbol: HandlerReference.defaultSymbol),
        isolation: Isolation = .process, timeoutSeconds: Double = FunctionLimits.defaultTimeoutSeconds,
        initTimeoutSeconds: Double = FunctionLimits.defaultInitTimeoutSeconds,
        memoryMB: Int = FunctionLimits.defaultMemoryMB, concurrency: Int = FunctionLimits.defaultConcurrency,
        prewarmInstances: Int = 1, initConfig: [UInt8] = [], maxResponseBytes: Int = FunctionLimits.defaultMaxResponseBytes,
        environment: [String: String] = [:], region: String = defaultRegion, accountID: String = defaultAccountID,
        version: String = "$LATEST"
    ) {
        self.name = name
        self.library = library
        self.handler = handler
        self.isolation = isolation
        self.timeoutSeconds = timeoutSeconds
        self.initTimeoutSeconds = initTimeoutSeconds
        self.memoryMB = memoryMB
        self.concurrency = concurrency
        self.prewarmInstances = prewarmInstances
        self.initConfig = initConfig
        self.maxResponseBytes = maxResponseBytes
        self.environment = environment
        self.region = region
        self.accountID = accountID
        self.version = version
    }

    /// The region and account of everything a host serves unless a configuration says otherwise.
    public static let defaultRegion = "us-east-1"
    public static let defaultAccountID = "000000000000"

    public var arn: String { "arn:aws:lambda:\(region):\(accountID):function:\(name)" }

    /// Every problem with the values, each as `field: why`. Empty when the configuration is valid.
    public func validationProblems() -> [(field: String, problem: String)] {
        var problems: [(String, String)] = []
        if let problem = FunctionLimits.nameProblem(name) { problems.append(("name", problem)) }
        if library.isEmpty { problems.append(("library", "is empty; give the path of a shared library")) }
        if !FunctionLimits.timeoutSeconds.contains(timeoutSeconds) {
            problems.append(("timeout", "must be between 1 and 900 seconds, got \(timeoutSeconds)"))
        }
        if !FunctionLimits.initTimeoutSeconds.contains(initTimeoutSeconds) {
            problems.append(("initTimeout", "must be between 1 and 900 seconds, got \(initTimeoutSeconds)"))
        }
        if !FunctionLimits.memoryMB.contains(memoryMB) {
            problems.append(("memory", "must be between 128 and 10240 MB, got \(memoryMB)"))
        }
        if !FunctionLimits.concurrency.contains(concurrency) {
            problems.append(("concurrency", "must be between 1 and \(FunctionLimits.concurrency.upperBound), got \(concurrency)"))
        }
        if prewarmInstances < 0 || prewarmInstances > concurrency {
            problems.append(("prewarm", "must be between 0 and the concurrency (\(concurrency)), got \(prewarmInstances)"))
        }
        if !FunctionLimits.maxResponseBytes.contains(maxResponseBytes) {
            problems.append(("maxResponseBytes", "must be between 1 and \(FunctionLimits.maxResponseBytes.upperBound), got \(maxResponseBytes)"))
        }
        if initConfig.count > FunctionLimits.maxInitConfigBytes {
            problems.append(("initConfig", "is \(initConfig.count) bytes; the limit is \(FunctionLimits.maxInitConfigBytes)"))
        }
        return problems
    }
}

/// The ranges a function's settings must fall in (Lambda's, where Lambda has one).
public enum FunctionLimits {
    public static let defaultTimeoutSeconds = 3.0
    public static let timeoutSeconds: ClosedRange<Double> = 1...900
    public static let defaultInitTimeoutSeconds = 10.0
    public static let initTimeoutSeconds: ClosedRange<Double> = 1...900
    public static let defaultMemoryMB = 128
    public static let memoryMB: ClosedRange<Int> = 128...10240
    public static let defaultConcurrency = 10
    public static let concurrency: ClosedRange<Int> = 1...1000
    public static let defaultMaxResponseBytes = 6 * 1024 * 1024
    public static let maxResponseBytes: ClosedRange<Int> = 1...(64 * 1024 * 1024)
    public static let maxInitConfigBytes = 4 * 1024 * 1024

    /// Lambda's function name rule: 1 to 64 letters, digits, '-' and '_'.
    public static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.utf8.count > 64 { return "is \(name.utf8.count) characters; the limit is 64" }
        let allowed = name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "-" || scalar == "_")
        }
        return allowed ? nil : "'\(name)' may only contain letters, digits, '-' and '_'"
    }
}
