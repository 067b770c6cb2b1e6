import ChuteCore
import ChuteWorkers

/// A function as the asynchronous pipeline sees it: where to run it and how to retry and route.
public struct AsyncFunction: Sendable {
    public var name: String
    /// The unqualified ARN: `arn:aws:lambda:REGION:ACCOUNT:function:NAME`.
    public var arn: String
    public var pool: any FunctionPool
    /// How many attempts of this function run at once; more wait for a free slot.
    public var concurrency: Int
    public let invokeConfig: EventInvokeConfig
    /// The function's DeadLetterConfig target ARN.
    public let deadLetterTarget: String?
    /// The destinations above, parsed once rather than for every finished event.
    let successRoute, failureRoute, deadLetterRoute: Result<Destination, ServiceError>?
    /// Reserved concurrency (PutFunctionConcurrency): 0 stops the function; nil is unreserved.
    public var reservedConcurrency: Int?

    public init(name: String, arn: String, pool: any FunctionPool, concurrency: Int, invokeConfig: EventInvokeConfig = EventInvokeConfig(),
                deadLetterTarget: String? = nil, reservedConcurrency: Int? = nil) {
        self.name = name
        self.arn = arn
        self.pool = pool
        self.concurrency = concurrency
        self.invokeConfig = invokeConfig
        self.deadLetterTarget = deadLetterTarget
        successRoute = invokeConfig.onSuccess.map(Destination.parse)
        failureRoute = invokeConfig.onFailure.map(Destination.parse)
        deadLetterRoute = deadLetterTarget.map(Destination.parseDeadLetter)
        self.reservedConcurrency = reservedConcurrency
    }

    /// How many attempts may run at once.
    var effectiveConcurrency: Int { min(concurrency, reservedConcurrency ?? concurrency) }
}

/// Finds functions by name; the host's registry implements it (functions can come and go).
public protocol AsyncFunctionDirectory: Sendable {
    func function(named name: String) -> AsyncFunction?
}
