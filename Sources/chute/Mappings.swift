import ArgumentParser
import ChuteCore
import ChuteServer
import ChuteStore
import Foundation
import Logging

/// `chute mappings`: event source mappings for operators. `list` and the checkpoint commands read
/// and write the store (safe beside a running `chute serve`, which restarts a shard from a moved
/// checkpoint); `status` asks a running host what its shards are doing right now.
struct Mappings: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect event source mappings; move a shard's checkpoint or skip a poison record to unstall it.",
        subcommands: [List.self, Status.self, MoveCheckpoint.self, Skip.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the mappings in the store, with each shard's checkpoint and lease.")
        @OptionGroup var store: Events.Store

        func run() async throws {
            let store = try store.open()
            let mappings = try await store.storedMappings()
            if mappings.isEmpty { Chute.printLine("no event source mappings") }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            for mapping in mappings {
                let settings = mapping.settings
                Chute.printLine("\(mapping.uuid)  \(mapping.functionName)  \(mapping.eventSourceARN)  \(settings.enabled ? "Enabled" : "Disabled")  "
                                + "batch: \(settings.batchSize)  retries: \(settings.maximumRetryAttempts)  onFailure: \(settings.onFailure ?? "none")")
                for lease in try await store.shardLeases(mapping: mapping.uuid) {
                    let holder = lease.owner.map { lease.untilMilliseconds > now ? "held by \($0)" : "expired (\($0))" } ?? "free"
                    Chute.printLine("  \(lease.shard)  checkpoint: \(lease.checkpoint.map(StreamRecord.sequenceNumber) ?? "none (starting position)")  \(holder)")
                }
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what a running host's mappings are doing: shards, checkpoints, iterator age, batches in flight and bisect state.")
        @Option(help: "The running host's URL, as `chute serve` printed it.") var url = "http://127.0.0.1:9000"
        @Flag(help: "Print the host's JSON as is.") var json = false

        func run() async throws {
            let data: Data
            do {
                data = Data(try await HostStatusClient.mappings(at: url))
            } catch {
                throw ValidationError("cannot read \(url)/chute/mappings: \(error)")
            }
            if json { return Chute.printLine(String(decoding: data, as: UTF8.self)) }
            let statuses = try JSONDecoder().decode([MappingStatusView].self, from: data)
            if statuses.isEmpty { Chute.printLine("no event source mappings") }
            for status in statuses {
                Chute.printLine("\(status.uuid)  \(status.functionName)  \(status.eventSourceARN)  \(status.state)  \(status.lastProcessingResult)"
                                + (status.shards.isEmpty ? "  batches in flight: \(status.batchesInFlight)" : ""))
                for shard in status.shards {
                    Chute.printLine("  \(shard.shardID)  checkpoint: \(shard.checkpoint ?? "none")  read through: \(shard.readThrough ?? "none")  "
                                    + "iterator age: \(shard.iteratorAgeMilliseconds.map { "\($0) ms" } ?? "-")")
                    for (index, lane) in shard.lanes.enumerated() {
                        var parts = ["pending \(lane.pending)"]
                        if let batch = lane.inFlight { parts.append("in flight \(describe(batch))") }
                        if !lane.retries.isEmpty {
                            parts.append("waiting to retry \(lane.retries.map(describe).joined(separator: ", "))"
                                         + (lane.retries.count > 1 ? " (bisected)" : ""))
                        }
                        Chute.printLine("    lane \(index): " + parts.joined(separator: "; "))
                    }
                }
            }
        }

        private func describe(_ batch: MappingStatusView.Batch) -> String {
            "\(batch.records) records \(batch.firstSequenceNumber)…\(batch.lastSequenceNumber) after \(batch.attempts) attempts"
        }
    }

    struct MoveCheckpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a shard's checkpoint: processing resumes after SEQUENCE (a running host restarts the shard from it).")
        @OptionGroup var store: Events.Store
        @Argument(help: "The mapping's UUID.") var uuid: String
        @Argument(help: "The shard, e.g. shardId-000000000000.") var shard: String
        @Argument(help: "The sequence number to resume after.") var sequence: String

        func run() async throws {
            guard let value = StreamRecord.sequence(sequence) else { throw ValidationError("\(sequence) is not a sequence number") }
            let store = try store.open()
            let mapping = try await Mappings.streamMapping(uuid, shard: shard, in: store)
            try await Mappings.move(mapping, shard: shard, to: value, why: "moved by an operator", in: store)
        }
    }

    struct Skip: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Skip the record after a shard's checkpoint (a poison record holding the shard); it stays readable in the stream.")
        @OptionGroup var store: Events.Store
        @Argument(help: "The mapping's UUID.") var uuid: String
        @Argument(help: "The shard, e.g. shardId-000000000000.") var shard: String

        func run() async throws {
            let store = try store.open()
            let (mapping, stream, index) = try await Mappings.streamMapping(uuid, shard: shard, in: store)
            let checkpoint = try await store.shardLeases(mapping: uuid).first { $0.shard == shard }?.checkpoint
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let next = try await store.records(in: stream, shard: index, from: checkpoint.map { .afterSequence($0) } ?? .trimHorizon, limit: 1, now: now)
            guard let record = next.first else { throw ValidationError("\(shard) has no record after its checkpoint to skip") }
            try await Mappings.move((mapping, stream, index), shard: shard, to: record.sequence,
                                    why: "skipped record \(record.sequenceNumber) (partition key \(record.partitionKey))", in: store)
        }
    }

    static func streamMapping(_ uuid: String, shard: String, in store: any HostStore) async throws
        -> (mapping: EventSourceMapping, stream: String, index: Int) {
        guard let mapping = try await store.storedMappings().first(where: { $0.uuid == uuid }) else {
            throw ValidationError("no event source mapping \(uuid): `chute mappings list` shows them")
        }
        guard case .stream(let stream)? = mapping.source else { throw ValidationError("mapping \(uuid) reads a queue, which has no checkpoints") }
        guard let index = ShardMap.shardIndex(shard), let description = try await store.stream(stream), index < description.shardCount else {
            throw ValidationError("\(shard) is not a shard of the stream \(stream)")
        }
        return (mapping, stream, index)
    }

    /// Moves the checkpoint and says so, on standard output and in the log.
    static func move(_ target: (mapping: EventSourceMapping, stream: String, index: Int), shard: String, to sequence: UInt64, why: String,
                     in store: any HostStore) async throws {
        let before = try await store.shardLeases(mapping: target.mapping.uuid).first { $0.shard == shard }?.checkpoint
        try await store.moveCheckpoint(mapping: target.mapping.uuid, shard: shard, to: sequence)
        let logger = Logger(label: "chute.mappings")
        logger.notice("checkpoint moved by an operator", metadata: [
            "mapping": "\(target.mapping.uuid)", "shard": "\(shard)", "from": "\(before.map(StreamRecord.sequenceNumber) ?? "none")",
            "to": "\(StreamRecord.sequenceNumber(sequence))", "reason": "\(why)"])
        Chute.printLine("\(target.mapping.uuid) \(shard): checkpoint \(before.map(StreamRecord.sequenceNumber) ?? "none") → "
                        + "\(StreamRecord.sequenceNumber(sequence)) (\(why)); processing resumes after it")
    }
}

/// `GET /chute/mappings` as the CLI reads it.
struct MappingStatusView: Decodable {
    struct Batch: Decodable {
        var firstSequenceNumber, lastSequenceNumber: String
        var records, attempts: Int
    }
    struct Lane: Decodable {
        var inFlight: Batch?
        var retries: [Batch]
        var pending: Int
    }
    struct Shard: Decodable {
        var shardID: String
        var checkpoint, readThrough: String?
        var iteratorAgeMilliseconds: Int64?
        var lanes: [Lane]
    }
    var uuid, functionName, eventSourceARN, state, lastProcessingResult: String
    var shards: [Shard]
    var batchesInFlight: Int
}
