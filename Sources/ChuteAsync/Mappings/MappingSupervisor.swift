import ChuteCore
import ChuteStore
import Logging
import Synchronization

/// Runs this host's event source mappings: one runner per enabled mapping, restarted when the
/// mapping changes and stopped when it is disabled or deleted. Puts to a stream and sends to a
/// queue wake the runners reading them.
public final class MappingSupervisor: Sendable {
    private enum Runner: Sendable {
        case stream(StreamMappingRunner)
        case queue(QueueMappingRunner)
    }

    private struct Running: Sendable {
        var mapping: EventSourceMapping
        var runner: Runner
        var task: Task<Void, Never>
    }

    private let context: MappingContext
    private let digests: QueueDigests
    private let running = Mutex<[String: Running]>([:])

    public init(context: MappingContext, digests: QueueDigests) {
        self.context = context
        self.digests = digests
    }

    /// Starts, restarts or stops the mapping's runner to match its definition.
    public func apply(_ mapping: EventSourceMapping) async {
        await stop(mapping.uuid)
        guard mapping.settings.enabled, let source = mapping.source else { return }
        let runner: Runner
        let task: Task<Void, Never>
        switch source {
        case .stream(let name):
            let stream = StreamMappingRunner(mapping: mapping, streamName: name, context: context)
            runner = .stream(stream)
            task = Task { await stream.run() }
        case .queue(let name):
            let queue = QueueMappingRunner(mapping: mapping, queueName: name, context: context, digests: digests)
            runner = .queue(queue)
            task = Task { await queue.run() }
        }
        running.withLock { $0[mapping.uuid] = Running(mapping: mapping, runner: runner, task: task) }
    }

    /// Stops the mapping's runner, waiting for its batches in flight; its leases are released.
    public func stop(_ uuid: String) async {
        guard let stopped = running.withLock({ $0.removeValue(forKey: uuid) }) else { return }
        stopped.task.cancel()
        await stopped.task.value
    }

    public func shutdown() async {
        for uuid in running.withLock({ Array($0.keys) }) { await stop(uuid) }
    }

    public func recordsPut(stream: String) {
        for entry in running.withLock({ Array($0.values) }) {
            if case .stream(let runner) = entry.runner, runner.streamName == stream { runner.recordsPut() }
        }
    }

    public func messagesSent(queue: String) {
        for entry in running.withLock({ Array($0.values) }) {
            if case .queue(let runner) = entry.runner, runner.queueName == queue { runner.messagesSent() }
        }
    }

    /// Lambda's `LastProcessingResult` for the mapping: "No records processed" until a batch ran.
    public func lastProcessingResult(_ uuid: String) -> String {
        guard let entry = running.withLock({ $0[uuid] }) else { return "No records processed" }
        switch entry.runner {
        case .stream(let runner): return runner.lastProcessingResult ?? "No records processed"
        case .queue(let runner): return runner.lastProcessingResult ?? "No records processed"
        }
    }

    /// What the mapping is doing on this host: its shards' checkpoints, lanes and batches in flight.
    public func status(_ mapping: EventSourceMapping) -> MappingStatus {
        let entry = running.withLock { $0[mapping.uuid] }
        var status = MappingStatus(uuid: mapping.uuid, functionName: mapping.functionName, eventSourceARN: mapping.eventSourceARN,
                                   state: mapping.settings.enabled ? "Enabled" : "Disabled",
                                   lastProcessingResult: lastProcessingResult(mapping.uuid), shards: [], batchesInFlight: 0)
        switch entry?.runner {
        case .stream(let runner)?:
            status.shards = runner.shardStatuses
            status.batchesInFlight = status.shards.reduce(0) { $0 + $1.lanes.filter { $0.inFlight != nil }.count }
        case .queue(let runner)?:
            status.batchesInFlight = runner.batchesInFlight
        case nil:
            break
        }
        return status
    }
}
