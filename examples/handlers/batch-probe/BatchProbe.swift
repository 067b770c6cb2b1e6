// A handler for event source mappings (streams and queues), built as libBatchProbe.so: each record
// (a Kinesis record's base64 `data`, or an SQS message's `body`) may be JSON that tells it what to
// do, which makes it the probe the mapping tests and the demo drive:
//
//   {"log": "/tmp/batches.jsonl"}    append the whole event as one line to that file
//   {"fail": "handled"}              fail the batch with a Handled error
//   {"fail": "crash"}                abort the process (Unhandled; use process isolation)
//   {"partial": true}                report this record in batchItemFailures
//   {"respond": "TEXT"}              answer exactly TEXT (invalid responses)
//   {"nostate": true}                under a tumbling window, answer without `state` (a failure)
//   {"sleep": 50}                    take that many milliseconds first (work in flight)
//
// Anything else is processed; the answer is {"batchItemFailures":[...]} listing partial records.
// An event without `Records` (an asynchronous invocation) is read as one record: {"log": PATH}
// appends it to that file, which is how the multi-host test counts the events that ran.
// Under a tumbling window the answer also carries the state: {"records": N, "log": PATH}, the
// records counted so far in the window, so the final invocation (which has no records) logs too.
import ChuteHandler
import Foundation
import Glibc

private struct Instruction: Decodable {
    var log: String?
    var fail: String?
    var partial: Bool?
    var respond: String?
    var nostate: Bool?
    var sleep: Int?
}

/// A record's identifier for batchItemFailures and its text.
private func records(of event: [String: Any], bytes: [UInt8]) -> [(id: String, text: Data)] {
    guard let list = event["Records"] as? [[String: Any]] else { return [("", Data(bytes))] }
    return list.map { record in
        if let kinesis = record["kinesis"] as? [String: Any] {
            let data = Data(base64Encoded: kinesis["data"] as? String ?? "") ?? Data()
            return (kinesis["sequenceNumber"] as? String ?? "", data)
        }
        return (record["messageId"] as? String ?? "", Data((record["body"] as? String ?? "").utf8))
    }
}

@_cdecl("chute_swift_main")
public func chuteSwiftMain() {
    Chute.registerBytes(name: "batch-probe", version: "1.0.0") { bytes, context in
        guard let event = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw HandledError(type: "InvalidEvent", message: "expected a JSON object with Records")
        }
        var partial: [String] = []
        var respond: String?
        var failure: String?
        var logs = Set<String>()
        let state = event["state"] as? [String: Any]
        if let path = state?["log"] as? String { logs.insert(path) }
        var nostate = false
        for (id, text) in records(of: event, bytes: bytes) {
            guard let instruction = try? JSONDecoder().decode(Instruction.self, from: text) else { continue }
            if let path = instruction.log { logs.insert(path) }
            if instruction.partial == true { partial.append(id) }
            if let text = instruction.respond { respond = text }
            if let kind = instruction.fail { failure = failure ?? kind }
            if instruction.nostate == true { nostate = true }
            if let milliseconds = instruction.sleep { usleep(useconds_t(min(max(milliseconds, 0), 60_000)) * 1000) }
        }
        for path in logs {
            // O_APPEND: one write per line, so instances in several worker processes never overwrite each other.
            let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            guard descriptor >= 0 else { continue }
            let line = bytes + [0x0A]
            _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            close(descriptor)
        }
        context.log("batch of \(records(of: event, bytes: bytes).count) records, attempt \(context.attempt)")
        switch failure {
        case "crash"?: abort()
        case let kind?: throw HandledError(type: "BatchFailed", message: "a record asked to fail (\(kind))")
        case nil: break
        }
        if let respond { return Array(respond.utf8) }
        let failures = partial.map { #"{"itemIdentifier":"\#($0)"}"# }.joined(separator: ",")
        guard event["window"] != nil, !nostate else { return Array(#"{"batchItemFailures":[\#(failures)]}"#.utf8) }
        let counted = (state?["records"] as? Int ?? 0) + records(of: event, bytes: bytes).count
        let log = logs.first.map { #","log":"\#($0)""# } ?? ""
        return Array(#"{"state":{"records":\#(counted)\#(log)},"batchItemFailures":[\#(failures)]}"#.utf8)
    }
}
