import ChuteAsync
import ChuteCore
import ChuteStore
import ChuteWorkers
import Foundation
import Logging

/// Hosts sharing a PostgreSQL store, beside one host on SQLite, in one run: async events/s end to
/// end (accepted durably, run on the no-op handler, settled with a record in a queue) and stream
/// records/s through a 4-shard mapping (batch 100), with 1 and 2 hosts. Each host is what
/// `chute serve` builds: a store of its own (its own connections), a dispatcher or mapping
/// supervisor under its own owner name, a worker pool of its own; they share only the database.
extension ChuteBench {
    func measureSharedStore(_ library: String, postgres: String, _ report: inout BenchReport) async throws {
        report.line("# chute-bench --suite postgres: \(events) events or records per run, \(rounds) rounds, no-op handler, thread isolation")
        report.line("")
        report.line("| store | hosts | async events/s end to end (median) | stream records/s through a mapping, 4 shards (median) |")
        report.line("|---|---|---|---|")
        let configurations: [(name: String, hosts: Int)] = [("SQLite", 1), ("PostgreSQL", 1), ("PostgreSQL", 2)]
        for configuration in configurations {
            var asyncRates: [Double] = []
            var streamRates: [Double] = []
            for _ in 0..<rounds {
                let makeStore = Self.storeMaker(configuration.name == "SQLite" ? nil : postgres)
                asyncRates.append(try await sharedAsyncThroughput(library, hosts: configuration.hosts, makeStore: makeStore))
                streamRates.append(try await sharedStreamThroughput(library, hosts: configuration.hosts, makeStore: makeStore))
            }
            report.line("| \(configuration.name) | \(configuration.hosts) | \(Measure.rate(Measure.median(asyncRates))) | \(Measure.rate(Measure.median(streamRates))) |")
        }
        report.line("")
    }

    /// Opens the stores of one run's hosts: a fresh SQLite file (one host), or one fresh schema of
    /// the PostgreSQL database that every host of the run opens.
    private static func storeMaker(_ postgres: String?) -> @Sendable () throws -> any HostStore {
        guard let postgres else {
            return { try SQLiteAsyncEventStore(path: NSTemporaryDirectory() + "chute-bench-\(RequestID.make()).sqlite") }
        }
        let schema = "bench_" + String(RequestID.make().filter(\.isHexDigit).lowercased().prefix(16))
        let url = postgres + (postgres.contains("?") ? "&" : "?") + "schema=\(schema)"
        return { try PostgresStore(url: url) }
    }

    /// Callers accept `events` in batches of 100 through the hosts in turn (each host runs what it
    /// accepted, and claims what the others leave); the rate until every result is settled.
    private func sharedAsyncThroughput(_ library: String, hosts: Int, makeStore: @Sendable () throws -> any HostStore) async throws -> Double {
        var dispatchers: [AsyncDispatcher] = []
        var pools: [any FunctionPool] = []
        var stores: [any HostStore] = []
        for host in 0..<hosts {
            let store = try makeStore()
            if host == 0 { try await store.createQueue("done") }
            let pool = try await pool(library, .thread, concurrency: 2)
            let function = AsyncFunction(name: "noop", arn: "arn:aws:lambda:us-east-1:000000000000:function:noop", pool: pool, concurrency: 2,
                                         invokeConfig: EventInvokeConfig(onSuccess: "arn:aws:sqs:us-east-1:000000000000:done"))
            dispatchers.append(AsyncDispatcher(store: store, directory: Directory(function), owner: "bench-\(host)",
                                               leaseMilliseconds: 30_000, claimLimit: 1024))
            pools.append(pool)
            stores.append(store)
        }
        let runners = dispatchers.map { dispatcher in Task { await dispatcher.run(pollMilliseconds: 5, clock: Self.wallMilliseconds) } }
        let total = events, batch = 100, callers = 4
        let start = Measure.now()
        try await Self.acceptNoopEvents(total, batch: batch, callers: callers) { [dispatchers] number, chunk in
            try await dispatchers[number % dispatchers.count].accept(chunk)
        }
        while dispatchers.reduce(0, { $0 + $1.statistics.eventsSettled }) < total {
            try await Task.sleep(for: .milliseconds(2))
            if Measure.now() - start > 600_000_000_000 { throw BenchError("the events were not settled in 600 s") }
        }
        let elapsed = Double(Measure.now() - start) / 1e9
        let delivered = try await stores[0].queue("done", now: Self.wallMilliseconds())?.visibleMessages ?? 0
        guard delivered >= total else { throw BenchError("expected \(total) records in the destination queue, found \(delivered)") }
        for runner in runners { runner.cancel() }
        for runner in runners { await runner.value }
        for pool in pools { await pool.shutdown() }
        return Double(total) / elapsed
    }

    /// Fills a 4-shard stream, splits its leases between the hosts (as balancing leaves them),
    /// starts the mapping on every host and times it until every checkpoint is at its shard's end.
    private func sharedStreamThroughput(_ library: String, hosts: Int, makeStore: @Sendable () throws -> any HostStore) async throws -> Double {
        let shards = 4
        var logger = Logger(label: "chute.bench")
        logger.logLevel = .error
        var settings = EventSourceMappingSettings(source: .stream)
        settings.startingPosition = .trimHorizon
        let mapping = EventSourceMapping(uuid: RequestID.make(), functionName: "noop",
                                         eventSourceARN: "arn:aws:kinesis:us-east-1:000000000000:stream/bench", settings: settings,
                                         lastModifiedMilliseconds: Self.wallMilliseconds())
        var supervisors: [MappingSupervisor] = []
        var pools: [any FunctionPool] = []
        var stores: [any HostStore] = []
        for host in 0..<hosts {
            let store = try makeStore()
            if host == 0 { _ = try await store.createStream("bench", shardCount: shards, retentionHours: 24, now: Self.wallMilliseconds()) }
            let pool = try await pool(library, .thread, concurrency: shards)
            let function = AsyncFunction(name: "noop", arn: "arn:aws:lambda:us-east-1:000000000000:function:noop", pool: pool, concurrency: shards)
            let context = MappingContext(store: store, directory: Directory(function), router: MessageRouter(directory: NoMessaging()),
                                         owner: "bench-\(host)", clock: Self.wallMilliseconds, logger: logger)
            supervisors.append(MappingSupervisor(context: context, digests: QueueDigests(body: { _ in "" }, attributes: { _ in "" })))
            pools.append(pool)
            stores.append(store)
        }
        var put = 0
        while put < events {
            let count = min(500, events - put)
            let entries = (put..<put + count).map { index in
                StreamEntry(partitionKey: "key-\(index % 1000)", hashKey: UInt128.random(in: 0...UInt128.max), data: Array(#"{"n":\#(index)}"#.utf8))
            }
            _ = try await stores[0].putRecords(entries, to: "bench", now: Self.wallMilliseconds())
            put += count
        }
        var last: [String: UInt64] = [:]
        for shard in 0..<shards { last[ShardMap.shardID(shard)] = try await stores[0].lastSequence(in: "bench", shard: shard) }
        let shardIDs = (0..<shards).map(ShardMap.shardID)
        for host in 0..<hosts {
            _ = try await stores[host].acquireShardLeases(mapping: mapping.uuid, shards: shardIDs, owner: "bench-\(host)", limit: shards / hosts,
                                                          now: Self.wallMilliseconds(), leaseMilliseconds: 10_000)
        }
        let start = Measure.now()
        for supervisor in supervisors { await supervisor.apply(mapping) }
        while true {
            let leases = try await stores[0].shardLeases(mapping: mapping.uuid)
            if leases.count == shards, leases.allSatisfy({ $0.checkpoint == last[$0.shard] }) { break }
            try await Task.sleep(for: .milliseconds(2))
            if Measure.now() - start > 600_000_000_000 { throw BenchError("the mapping did not finish in 600 s") }
        }
        let elapsed = Double(Measure.now() - start) / 1e9
        for supervisor in supervisors { await supervisor.shutdown() }
        for pool in pools { await pool.shutdown() }
        return Double(events) / elapsed
    }
}
