/// Reads a function's answer under `ReportBatchItemFailures` for a stream batch:
/// `{"batchItemFailures":[{"itemIdentifier":"<sequence number>"}]}`.
///
/// - Success: an empty or `null` response, `{}`, or an empty or `null` list.
/// - The batch fails from the lowest sequence number listed (the records before it are done).
/// - The whole batch fails when an entry has an empty or `null` identifier, another key, or an
///   identifier that is not in the batch, or when the response is not such JSON at all.
public enum BatchItemFailures {
    public static func result(of response: [UInt8], batch: [StreamRecord]) -> ShardProcessor.Result {
        let text = String(decoding: response, as: UTF8.self)
        if text.allSatisfy(\.isWhitespace) { return .success }
        guard let value = try? JSONValue.parse(response) else { return .failure(functionError: nil) }
        switch value {
        case .null: return .success
        case .object:
            guard let list = value["batchItemFailures"] else {
                if case .object(let members) = value, members.isEmpty { return .success }
                return .failure(functionError: nil)
            }
            switch list {
            case .null: return .success
            case .array(let entries):
                if entries.isEmpty { return .success }
                var lowest: UInt64?
                let sequences = Set(batch.map(\.sequence))
                for entry in entries {
                    guard case .object(let members) = entry, members.count == 1, members[0].key == "itemIdentifier",
                          let identifier = members[0].value.stringValue, let sequence = StreamRecord.sequence(identifier),
                          sequences.contains(sequence) else { return .failure(functionError: nil) }
                    lowest = min(lowest ?? sequence, sequence)
                }
                return lowest.map { .partialFailure(firstFailedSequence: $0) } ?? .success
            default:
                return .failure(functionError: nil)
            }
        default:
            return .failure(functionError: nil)
        }
    }
}
