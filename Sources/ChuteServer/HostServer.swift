import ChuteAsync
import ChuteCore
import ChuteHost
import ChuteStore
import ChuteWorkers
import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// `chute serve`: the functions of a configuration file behind Lambda's, SQS's, SNS's,
/// EventBridge's and Kinesis's HTTP APIs, with asynchronous invocations on the embedded SQLite
/// store (or a PostgreSQL store shared with other hosts), records routed to queues, functions, topics, event buses and HTTP endpoints, and event
/// source mappings reading streams and queues, until SIGINT or SIGTERM.
///
/// Shutdown is graceful: the listener stops, the dispatcher stops claiming, in-flight attempts
/// finish and are settled, and whatever was not claimed stays queued in the store for the next run.
public enum HostServer {
    public static func wallMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    /// Serves until shut down. With `storeURL` (PostgreSQL) the host shares its store with other
    /// hosts: event leases last `leaseMilliseconds` and are renewed while the host lives, and
    /// definitions other hosts create are taken up every `refreshMilliseconds`.
    public static func run(configuration: ConfigurationFile, dataDirectory: String, storeURL: String? = nil, leaseMilliseconds: Int64 = 30_000,
                           refreshMilliseconds: Int64 = 2_000, host: String, port: Int, logger: Logger,
                           onListening: @escaping @Sendable (String) -> Void) async throws {
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw StoreError("cannot create the data directory \(dataDirectory): \(error.localizedDescription)")
        }
        let store: any HostStore
        if let storeURL {
            store = try PostgresStore(url: storeURL)
        } else {
            store = try SQLiteAsyncEventStore(path: dataDirectory + "/chute.sqlite")
        }
        let shared = storeURL != nil
        let now = wallMilliseconds()
        for queue in configuration.queues { try await store.createQueue(queue, attributes: QueueAttributes(), now: now) }
        for stream in configuration.streams {
            _ = try await store.createStream(stream.name, shardCount: stream.shardCount, retentionHours: stream.retentionHours, now: now)
        }
        // Descriptors are shared out first: connections, functions and worker processes each get a cap.
        let shares = DescriptorBudget.shares(configuration.server, descriptorLimit: DescriptorBudget.raiseSoftLimit(), logger: logger)
        InstanceBudget.shared.limit = shares.instances
        let registry = FunctionRegistry(logger: logger)
        for function in configuration.functions {
            try await registry.add(function, asyncSettings: configuration.asyncSettings[function.name] ?? .init(), now: now)
        }
        let clock: @Sendable () -> Int64 = { wallMilliseconds() }
        let manager = FunctionManager(registry: registry, store: store, codeRoot: dataDirectory + "/functions", maximumFunctions: shares.functions,
                                      clock: clock, logger: logger)
        try await manager.restore(declared: Set(configuration.functions.map(\.name)))
        let prometheus = PrometheusCollectorRegistry()
        let metrics = FunctionMetrics(factory: PrometheusMetricsFactory(registry: prometheus))
        let messaging = MessagingRegistry(store: store)
        try await messaging.restore()
        try await messaging.declare(topics: configuration.topics, eventBuses: configuration.eventBuses)
        // Unique among hosts sharing a store (a pid alone may repeat across machines or restarts).
        let owner = "host-\(getpid())-\(RequestID.make().prefix(8))"
        let httpDelivery = HTTPDeliveryService(store: store, owner: owner, policy: configuration.httpDelivery, metrics: metrics, clock: clock,
                                               logger: logger)
        let dispatcher = AsyncDispatcher(store: store, directory: registry, owner: owner, metrics: metrics, logger: logger,
                                         leaseMilliseconds: shared ? leaseMilliseconds : AsyncDispatcher.singleHostLeaseMilliseconds,
                                         unknownFunctionGraceMilliseconds: shared ? 5 * refreshMilliseconds : 0,
                                         messaging: messaging, httpDeliveriesWritten: { httpDelivery.wake() })
        let writer = PlanWriter(store: store, dispatcher: dispatcher, wakeHTTPDelivery: { httpDelivery.wake() })
        let messageRouter = MessageRouter(directory: messaging)
        let mappingContext = MappingContext(
            store: store, directory: registry, router: messageRouter, owner: owner, clock: clock, logger: logger,
            metrics: MappingMetrics(factory: PrometheusMetricsFactory(registry: prometheus)),
            planWritten: { plan in
                if !plan.followUps.isEmpty { dispatcher.storedEventsToClaim() }
                if !plan.httpDeliveries.isEmpty { httpDelivery.wake() }
            })
        let supervisor = MappingSupervisor(context: mappingContext, digests: QueueDigests(body: SQSDigest.md5, attributes: SQSDigest.attributes))
        let mappings = MappingRegistry(store: store, functions: registry, supervisor: supervisor, clock: clock)
        try await mappings.restore(logger: logger)
        try await mappings.declare(configuration.mappings)

        let router = Router()
        router.get("/metrics") { _, _ in
            AWSResponse.bytes(prometheus.emitToBuffer(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        LambdaAPI(registry: registry, manager: manager, dispatcher: dispatcher, limits: .init(), clock: clock).register(on: router)
        LambdaMappingsAPI(mappings: mappings, supervisor: supervisor).register(on: router)
        router.get("/chute/mappings") { _, _ in
            AWSResponse.json(mappings.all.map(supervisor.status))
        }
        RootAPI(sqs: SQSAPI(store: store, region: FunctionConfiguration.defaultRegion, accountID: FunctionConfiguration.defaultAccountID, clock: clock,
                            messagesSent: { supervisor.messagesSent(queue: $0) }),
                sns: SNSAPI(registry: messaging, router: messageRouter, writer: writer, clock: clock),
                events: EventBridgeAPI(registry: messaging, router: messageRouter, writer: writer, clock: clock),
                kinesis: KinesisAPI(store: store, region: FunctionConfiguration.defaultRegion, accountID: FunctionConfiguration.defaultAccountID,
                                    clock: clock, recordsPut: { supervisor.recordsPut(stream: $0) })).register(on: router)
        // Connections are capped below the descriptor limit and idle ones close, so that no flood
        // of connections can starve the store, the workers or /metrics of descriptors.
        let limiter = ConnectionLimiter(limit: shares.connections)
        let application = Application(
            router: router,
            server: .http1(configuration: .init(additionalChannelHandlers: [limiter.handler()],
                                                idleTimeout: .seconds(Int64(configuration.server.idleTimeoutSeconds)))),
            configuration: .init(address: .hostname(host, port: port), serverName: "chute", backlog: 1024,
                                 availableConnectionsDelegate: limiter.ceiling),
            services: [DispatcherService(dispatcher: dispatcher, clock: clock), httpDelivery]
                + (shared ? [DefinitionRefreshService(functions: manager, declaredFunctions: Set(configuration.functions.map(\.name)),
                                                      messaging: messaging, mappings: mappings, intervalMilliseconds: refreshMilliseconds,
                                                      logger: logger)] : []),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                onListening("http://\(host):\(bound)")
            },
            logger: logger)
        let deadline = Task { await ShutdownDeadline.watch(grace: .seconds(configuration.server.shutdownGraceSeconds), logger: logger) }
        defer { deadline.cancel() }
        do {
            try await application.runService()
        } catch {
            await supervisor.shutdown()
            await registry.shutdown()
            throw error
        }
        // Mappings stop first: their batches in flight finish on the pools and are committed.
        await supervisor.shutdown()
        await registry.shutdown()
    }
}

/// Runs the dispatcher until graceful shutdown.
struct DispatcherService: Service {
    let dispatcher: AsyncDispatcher
    let clock: @Sendable () -> Int64

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await dispatcher.run(clock: clock)
        }
    }
}
