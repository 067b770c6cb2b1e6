/// Reads a function's answer under `ReportBatchItemFailures`:
/// `{"batchItemFailures":[{"itemIdentifier":"…"}]}`, where an identifier is a stream record's
/// sequence number or a queue message's id.
///
/// - Success: an empty or `null` response, `{}`, or an empty or `null` list.
/// - The whole batch fails when an entry has an empty or `null` identifier, another key, or an
///   identifier that is not in the batch, or when the response is not such JSON at all.
public enum BatchItemFailures {
    public enum Reported: Sendable, Hashable {
        case none
        case items(Set<String>)
        case wholeBatch
    }

    /// The identifiers the response reports as failed, out of `identifiers` (the batch's).
    /// `otherKeysAllowed`: the response is a tumbling window's, `{"state":…,"batchItemFailures":…}`,
    /// where a missing list means none failed.
    public static func reported(in response: [UInt8], identifiers: Set<String>, otherKeysAllowed: Bool = false) -> Reported {
        if response.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .none }
        guard let value = try? JSONValue.parse(response) else { return .wholeBatch }
        switch value {
        case .null: return .none
        case .object(let members):
            guard let list = value["batchItemFailures"] else { return members.isEmpty || otherKeysAllowed ? .none : .wholeBatch }
            switch list {
            case .null: return .none
            case .array(let entries):
                var failed = Set<String>()
                for entry in entries {
                    guard case .object(let members) = entry, members.count == 1, members[0].key == "itemIdentifier",
                          let identifier = members[0].value.stringValue, identifiers.contains(identifier) else { return .wholeBatch }
                    failed.insert(identifier)
                }
                return failed.isEmpty ? .none : .items(failed)
            default:
                return .wholeBatch
            }
        default:
            return .wholeBatch
        }
    }

    /// A stream batch's result: it fails from the lowest sequence number reported.
    public static func result(of response: [UInt8], batch: [StreamRecord], otherKeysAllowed: Bool = false) -> ShardProcessor.Result {
        switch reported(in: response, identifiers: Set(batch.map(\.sequenceNumber)), otherKeysAllowed: otherKeysAllowed) {
        case .none: return .success
        case .wholeBatch: return .failure(functionError: nil)
        case .items(let failed):
            let lowest = failed.compactMap(StreamRecord.sequence).min()
            return lowest.map { .partialFailure(firstFailedSequence: $0) } ?? .failure(functionError: nil)
        }
    }
}
