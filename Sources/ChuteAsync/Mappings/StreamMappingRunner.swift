import ChuteCore
import ChuteStore
import Logging
import Synchronization

/// Runs a stream mapping on this host: takes and renews the leases of the stream's shards, runs a
/// `StreamShardWorker` for each lease it holds, and stops a worker whose lease moved (expired and
/// taken, taken by a host balancing the shards, or freed by an operator moving its checkpoint and
/// taken again: its counter changed). Hosts sharing a store split the shards between them
/// (`ShardLeaseBalance`) and take over a dead host's shards when its leases expire.
final class StreamMappingRunner: Sendable {
    let mapping: EventSourceMapping
    let streamName: String
    let context: MappingContext
    private let workers = Mutex<[String: (counter: Int64, handle: ShardHandle, task: Task<Void, Never>)]>([:])
    private let signal = WakeSignal()
    private let problem = Mutex<String?>(nil)

    init(mapping: EventSourceMapping, streamName: String, context: MappingContext) {
        self.mapping = mapping
        self.streamName = streamName
        self.context = context
    }

    /// Records were put to the stream: every shard worker looks at once.
    func recordsPut() {
        for handle in workers.withLock({ $0.values.map(\.handle) }) { handle.signal.wake() }
    }

    func run() async {
        var logger = context.logger
        logger[metadataKey: "mapping"] = "\(mapping.uuid)"
        while !Task.isCancelled {
            await balance(logger: logger)
            await signal.sleep(milliseconds: max(context.leaseMilliseconds / 3, 100))
        }
        let stopping = workers.withLock { workers in defer { workers.removeAll() }; return workers.values.map(\.task) }
        for task in stopping { task.cancel() }
        for task in stopping { await task.value }
        try? await context.store.releaseShardLeases(mapping: mapping.uuid, owner: context.owner)
    }

    /// Takes and renews leases, and runs exactly one worker per lease held.
    private func balance(logger: Logger) async {
        let now = context.clock()
        let leases: [ShardLease]
        do {
            guard let stream = try await context.store.stream(streamName) else {
                problem.withLock { $0 = "PROBLEM: the stream \(streamName) does not exist" }
                return stopAll()
            }
            let shards = (0..<stream.shardCount).map(ShardMap.shardID)
            let balance = ShardLeaseBalance(leases: try await context.store.shardLeases(mapping: mapping.uuid), shards: shards,
                                            owner: context.owner, now: now)
            if let lease = balance.take,
               try await context.store.takeShardLease(lease, owner: context.owner, now: now, leaseMilliseconds: context.leaseMilliseconds) {
                logger.info("took a shard to balance the hosts", metadata: ["shard": "\(lease.shard)", "from": "\(lease.owner ?? "")"])
            }
            leases = try await context.store.acquireShardLeases(mapping: mapping.uuid, shards: shards, owner: context.owner,
                                                                limit: balance.share, now: now, leaseMilliseconds: context.leaseMilliseconds)
            problem.withLock { $0 = nil }
            var started: [(String, Int64, ShardHandle, Task<Void, Never>)] = []
            let current = workers.withLock { $0 }
            for lease in leases {
                guard let index = ShardMap.shardIndex(lease.shard), index < stream.shardCount else { continue }
                if let running = current[lease.shard], running.counter == lease.counter, !running.handle.isStopped { continue }
                current[lease.shard]?.task.cancel()
                let handle = ShardHandle()
                let worker = StreamShardWorker(mapping: mapping, stream: stream, shardIndex: index, lease: lease, context: context, handle: handle)
                logger.info("processing shard", metadata: ["shard": "\(lease.shard)", "checkpoint": "\(lease.checkpoint.map(String.init) ?? "none")"])
                started.append((lease.shard, lease.counter, handle, Task { await worker.run() }))
            }
            let held = Set(leases.map(\.shard))
            workers.withLock { workers in
                for (shard, counter, handle, task) in started { workers[shard] = (counter, handle, task) }
                for shard in workers.keys where !held.contains(shard) {
                    workers[shard]?.task.cancel()
                    workers[shard] = nil
                }
            }
        } catch {
            logger.error("cannot take shard leases: \(error)")
            problem.withLock { $0 = "PROBLEM: cannot take shard leases: \(error)" }
        }
    }

    private func stopAll() {
        let stopping = workers.withLock { workers in defer { workers.removeAll() }; return workers.values.map(\.task) }
        for task in stopping { task.cancel() }
    }

    var shardStatuses: [ShardStatus] {
        workers.withLock { $0.values.compactMap(\.handle.status) }.sorted { $0.shardID < $1.shardID }
    }

    var lastProcessingResult: String? {
        if let problem = problem.withLock({ $0 }) { return problem }
        let results = workers.withLock { $0.values.compactMap(\.handle.result) }
        return results.first { $0.hasPrefix("PROBLEM") } ?? results.first
    }
}
