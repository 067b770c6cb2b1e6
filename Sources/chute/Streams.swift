import ArgumentParser
import ChuteCore
import ChuteServer
import ChuteStore
import Foundation

/// `chute streams`: the built-in streams of a data directory: create, list, put records, read a
/// shard. Safe beside a running `chute serve` on the same data directory.
struct Streams: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, write and read built-in streams (Kinesis-like).",
        subcommands: [Create.self, List.self, Put.self, Read.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a stream.")
        @OptionGroup var store: Events.Store
        @Argument(help: "The stream's name.") var name: String
        @Option(help: "Shards (1-256).") var shards = 1
        @Option(help: "Hours records are kept (24-168).") var retentionHours = 24

        func validate() throws {
            guard (1...256).contains(shards) else { throw ValidationError("--shards must be from 1 to 256, not \(shards)") }
            guard (24...168).contains(retentionHours) else { throw ValidationError("--retention-hours must be from 24 to 168, not \(retentionHours)") }
        }

        func run() async throws {
            guard try await store.open().createStream(name, shardCount: shards, retentionHours: retentionHours,
                                                      now: HostServer.wallMilliseconds()) != nil else {
                throw ValidationError("a stream named \(name) exists")
            }
            Chute.printLine("created \(name) with \(shards) shards")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the streams.")
        @OptionGroup var store: Events.Store

        func run() async throws {
            let streams = try await store.open().streamDescriptions()
            if streams.isEmpty { Chute.printLine("no streams") }
            for stream in streams {
                Chute.printLine("\(stream.name)  shards: \(stream.shardCount)  retention: \(stream.retentionHours) h")
            }
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put records: each DATA argument, or each line of standard input when none is given.")
        @OptionGroup var store: Events.Store
        @Option(help: "The stream.") var stream: String
        @Option(help: "The partition key (picks the shard by its MD5, as Kinesis does).") var partitionKey: String
        @Argument(help: "The records' data.") var data: [String] = []

        func run() async throws {
            var lines = data
            if lines.isEmpty {
                while let line = readLine() { lines.append(line) }
            }
            let store = try store.open()
            guard try await store.stream(stream) != nil else { throw ValidationError("no stream named \(stream)") }
            var written = 0
            for chunk in stride(from: 0, to: lines.count, by: StreamWriter.maximumRecordsPerCall) {
                let entries = lines[chunk..<min(lines.count, chunk + StreamWriter.maximumRecordsPerCall)].map {
                    StreamWriter.Entry(partitionKey: partitionKey, data: Array($0.utf8))
                }
                do {
                    for record in try await StreamWriter(store: store).put(entries, to: stream, now: HostServer.wallMilliseconds()) {
                        Chute.printLine("\(record.shardID)  \(record.sequenceNumber)")
                    }
                } catch let error as ServiceError {
                    throw ValidationError(error.message)
                }
                written += entries.count
            }
            Chute.printError("put \(written) records into \(stream)")
        }
    }

    struct Read: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a shard's records from a sequence number (or the oldest retained).")
        @OptionGroup var store: Events.Store
        @Option(help: "The stream.") var stream: String
        @Option(help: "The shard (shardId-000000000000 or its number).") var shard = "0"
        @Option(help: "The first sequence number to print (default: the oldest retained).") var from: String?
        @Option(help: "At most this many.") var limit = 100

        func run() async throws {
            guard let index = ShardMap.shardIndex(shard) ?? Int(shard) else { throw ValidationError("'\(shard)' is not a shard id") }
            var position = StreamPosition.trimHorizon
            if let from {
                guard let sequence = StreamRecord.sequence(from) else { throw ValidationError("'\(from)' is not a sequence number") }
                position = .atSequence(sequence)
            }
            let records = try await store.open().records(in: stream, shard: index, from: position, limit: limit, now: HostServer.wallMilliseconds())
            for record in records {
                Chute.printLine("\(record.sequenceNumber)  \(record.partitionKey)  \(Timestamps.iso8601(milliseconds: record.arrivalMilliseconds))  "
                                + String(decoding: record.data, as: UTF8.self))
            }
        }
    }
}
