import ChuteCore
import ChuteStore
import Logging

/// What a mapping's stores are: streams and their shard leases, queues, and the plans of on-failure
/// records written with checkpoints.
public typealias MappingStore = StreamStore & ShardLeaseStore & AsyncEventStore

/// What every running mapping shares: where it reads and writes, which functions it can invoke,
/// how records are routed, who this host is, and the clock.
public struct MappingContext: Sendable {
    public var store: any MappingStore
    public var directory: any AsyncFunctionDirectory
    public var router: MessageRouter
    /// This host's name in shard leases.
    public var owner: String
    public var clock: @Sendable () -> Int64
    public var logger: Logger
    public var metrics: MappingMetrics
    public var region: String
    public var account: String
    /// Called after a plan with events for functions or POSTs was written, to wake whoever runs them.
    public var planWritten: @Sendable (DeliveryPlan) -> Void
    /// How long a shard lease lasts without renewal: a dead host's shards move after this.
    public var leaseMilliseconds: Int64
    /// How often an idle shard or queue looks for records no wake announced (puts on another host).
    public var idlePollMilliseconds: Int64
    /// Told each stream batch as its invocation returns (benchmarks measure put → handler with it).
    public var batchInvoked: (@Sendable ([StreamRecord]) -> Void)?

    public init(store: any MappingStore, directory: any AsyncFunctionDirectory, router: MessageRouter, owner: String,
                clock: @escaping @Sendable () -> Int64, logger: Logger, metrics: MappingMetrics = MappingMetrics(),
                region: String = FunctionConfiguration.defaultRegion, account: String = FunctionConfiguration.defaultAccountID,
                planWritten: @escaping @Sendable (DeliveryPlan) -> Void = { _ in }, leaseMilliseconds: Int64 = 10_000,
                idlePollMilliseconds: Int64 = 250, batchInvoked: (@Sendable ([StreamRecord]) -> Void)? = nil) {
        self.store = store
        self.directory = directory
        self.router = router
        self.owner = owner
        self.clock = clock
        self.logger = logger
        self.metrics = metrics
        self.region = region
        self.account = account
        self.planWritten = planWritten
        self.leaseMilliseconds = leaseMilliseconds
        self.idlePollMilliseconds = idlePollMilliseconds
        self.batchInvoked = batchInvoked
    }

    /// The role a mapping's events name as `invokeIdentityArn`.
    var roleARN: String { "arn:aws:iam::\(account):role/chute-event-source-mapping" }
}
