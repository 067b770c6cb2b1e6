import ChuteCore
import ChuteHost
@testable import ChuteWorkers
import Foundation

/// The fuzz targets: each takes arbitrary bytes and feeds them to one of Chute's readers of
/// untrusted input. A target must never crash; where two readers must agree (two JSON parsers, an
/// encoder and its decoder), a disagreement is a crash too.
enum FuzzTargets {
    struct Target: Sendable {
        let name: String
        let body: @Sendable (UnsafeBufferPointer<UInt8>) -> Void
    }

    static let all: [Target] = [
        Target(name: "json", body: json),
        Target(name: "pattern", body: pattern),
        Target(name: "config", body: config),
        Target(name: "frames", body: frames),
        Target(name: "signature", body: signature),
        Target(name: "zip", body: zip),
        Target(name: "kinesis", body: kinesis),
    ]

    /// The target CHUTE_FUZZ_TARGET names, for libFuzzer runs.
    static let selected: Target = {
        let name = ProcessInfo.processInfo.environment["CHUTE_FUZZ_TARGET"] ?? ""
        guard let target = all.first(where: { $0.name == name }) else {
            fatalError("set CHUTE_FUZZ_TARGET to one of: \(all.map(\.name).joined(separator: ", "))")
        }
        return target
    }()

    static func run(_ target: Target, _ input: UnsafeBufferPointer<UInt8>) { target.body(input) }

    /// Inputs with two parts (a pattern and an event, a signature and its arguments) split at the first NUL.
    static func split(_ input: UnsafeBufferPointer<UInt8>) -> (String, [UInt8]) {
        guard let cut = input.firstIndex(of: 0) else { return (String(decoding: input, as: UTF8.self), []) }
        return (String(decoding: input[..<cut], as: UTF8.self), Array(input[(cut + 1)...]))
    }

    // MARK: Targets

    /// The JSON reader patterns and records are parsed with, against the validator that decides
    /// whether a response is embedded as JSON: both must agree on what JSON is.
    @Sendable static func json(_ input: UnsafeBufferPointer<UInt8>) {
        let bytes = Array(input)
        let parsed = try? JSONValue.parse(bytes)
        if (parsed != nil) != JSONText.isValid(bytes) {
            fatalError("JSONValue.parse and JSONSyntax disagree on \(bytes)")
        }
        if let parsed {
            _ = parsed.numberValue
            _ = parsed["key"]
        }
        _ = JSONText.embed(bytes)
        _ = JSONText.flatObject(String(decoding: bytes, as: UTF8.self))
    }

    static let sampleEvents: [JSONValue] = [
        #"{"source":"app","detail-type":"t","detail":{"n":5,"s":"text","a":[1,"x",null,true],"ip":"10.0.0.1","o":{"k":"v"}}}"#,
        #"{"Records":[{"body":"{\"k\":1}","messageAttributes":{}}],"n":-1.5e3,"e":"","u":"é"}"#,
    ].compactMap { try? JSONValue.parse($0) }

    /// Event patterns (EventBridge rules, SNS filter policies, mapping filters): the compiler on
    /// any text, then the matcher against fixed events and the input's own event.
    @Sendable static func pattern(_ input: UnsafeBufferPointer<UInt8>) {
        let (source, eventBytes) = split(input)
        guard let pattern = try? EventPattern(source) else { return }
        for event in sampleEvents { _ = pattern.matches(event) }
        if let event = try? JSONValue.parse(eventBytes) { _ = pattern.matches(event) }
        _ = pattern.matches(json: eventBytes)
    }

    /// The configuration file: every problem must come back as a message, never a trap.
    @Sendable static func config(_ input: UnsafeBufferPointer<UInt8>) {
        _ = try? ConfigurationFile.parse(String(decoding: input, as: UTF8.self), path: "/nonexistent/chute-fuzz/chute.yaml")
    }

    /// Frames between the host and its workers, read as the host reads a worker's (whose code is
    /// not trusted) and as a worker reads the host's.
    @Sendable static func frames(_ input: UnsafeBufferPointer<UInt8>) {
        var buffer = FrameBuffer()
        buffer.append(UnsafeRawBufferPointer(input))
        while buffer.next({ kind, payload in
            var reader = WireReader(payload)
            switch kind {
            case .configure: _ = WorkerSettings.decode(&reader)
            case .response: _ = OutcomeWire.read(&reader)
            case .initFailed: _ = OutcomeWire.readError(&reader)
            case .invoke: _ = (reader.u32(), reader.string(), reader.rest())
            case .loaded: _ = (reader.u32(), reader.u32(), reader.u32(), reader.u32(), reader.string(), reader.string(), reader.u8())
            case .log: _ = (reader.u8(), reader.blob())
            case .spawned, .exited: _ = (reader.u64(), reader.i32(), reader.i32())
            default: _ = (reader.string(), reader.string(), reader.rest())
            }
            _ = reader.isMalformed
        }) == .consumed {}
    }

    /// Declared signatures (`SYMBOL(TYPES)->TYPE[@FREE]`) and the JSON arguments read for them.
    @Sendable static func signature(_ input: UnsafeBufferPointer<UInt8>) {
        let (text, event) = split(input)
        guard let signature = try? DeclaredSignature.parse(text) else { return }
        if case .success(let values) = DeclaredArguments.decode(event: event, for: signature) {
            for value in values { _ = DeclaredArguments.encode(result: value) }
        }
    }

    static let zipLimits: CodeArchive.Limits = {
        var limits = CodeArchive.Limits()
        limits.unzippedBytes = 4 * 1_048_576  // a fuzzer's zip bomb stops early
        limits.entries = 1_000
        return limits
    }()

    static let scratch = NSTemporaryDirectory() + "chute-fuzz-\(getpid())"

    /// Function code zips: unpacked into a scratch directory, then removed.
    @Sendable static func zip(_ input: UnsafeBufferPointer<UInt8>) {
        let directory = scratch + "/unpacked"
        try? FileManager.default.removeItem(atPath: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try? CodeArchive.unpack(Data(input), into: directory, limits: zipLimits)
        // Whatever was unpacked stayed inside the directory.
        if let entries = FileManager.default.enumerator(atPath: directory) {
            for case let path as String in entries where path.hasPrefix("/") || path.split(separator: "/").contains("..") {
                fatalError("unpacked outside the directory: \(path)")
            }
        }
    }

    /// Kinesis's codecs: shard iterators, sequence numbers, shard ids, hash keys, base64.
    @Sendable static func kinesis(_ input: UnsafeBufferPointer<UInt8>) {
        let text = String(decoding: input, as: UTF8.self)
        for token in [text, Base64.encode(Array(input))] {
            guard let iterator = ShardIterator(token: token) else { continue }
            guard ShardIterator(token: iterator.token) == iterator else { fatalError("an iterator does not survive its token: \(token)") }
        }
        if let sequence = StreamRecord.sequence(text), StreamRecord.sequence(StreamRecord.sequenceNumber(sequence)) != sequence {
            fatalError("sequence number \(text) does not survive its own text")
        }
        _ = ShardMap.shardIndex(text)
        _ = ShardMap.hashKey(decimal: text)
        if let decoded = Base64.decode(text) {
            guard Data(base64Encoded: text).map(Array.init) == decoded else { fatalError("Base64.decode and Foundation disagree on \(text)") }
            guard Base64.decode(Base64.encode(decoded)) == decoded else { fatalError("base64 does not round-trip \(text)") }
        }
    }
}
