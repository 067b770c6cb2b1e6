import ChuteCore
import Foundation

/// One SQS JSON 1.0 request body, with SQS's errors for missing and out-of-range parameters.
struct SQSInput {
    let fields: RequestFields

    init(_ fields: RequestFields) { self.fields = fields }

    func string(_ field: String) throws(ServiceError) -> String {
        guard let value = try fields.string(field) else {
            throw ServiceError(type: "MissingParameter", message: "The request must contain the parameter \(field).")
        }
        return value
    }

    /// An optional integer parameter within `range`.
    func integer(_ field: String, in range: ClosedRange<Int>) throws(ServiceError) -> Int? {
        guard fields.has(field) else { return nil }
        let value = fields.members[field]!
        guard let number = RequestFields.integer(value), range.contains(number) else {
            throw ServiceError(type: "InvalidParameterValue",
                               message: "Value \(value) for parameter \(field) is invalid. Reason: Must be between \(range.lowerBound) and \(range.upperBound), if provided.")
        }
        return number
    }

    /// A map of strings (`Attributes`).
    func stringMap(_ field: String) throws(ServiceError) -> [String: String] {
        guard fields.has(field), let value = fields.members[field] else { return [:] }
        guard let map = value as? [String: Any] else {
            throw ServiceError(type: "InvalidParameterValue", message: "\(field) must be a map of attribute names to string values.")
        }
        var strings: [String: String] = [:]
        for (key, item) in map {
            guard let text = item as? String else {
                throw ServiceError(type: "InvalidAttributeValue", message: "Invalid value for the parameter \(key): expected a string.")
            }
            strings[key] = text
        }
        return strings
    }

    func strings(_ field: String) throws(ServiceError) -> [String] { try fields.strings(field) ?? [] }

    /// The queue name at the end of `QueueUrl`.
    func queueName() throws(ServiceError) -> String {
        String(try string("QueueUrl").split(separator: "/").last ?? "")
    }

    /// A batch's entries: 1-10, each with a distinct, well-formed `Id`.
    func batchEntries(_ kind: String) throws(ServiceError) -> [SQSInput] {
        let entries = (try fields.objects("Entries") ?? []).map(SQSInput.init)
        guard !entries.isEmpty else {
            throw ServiceError(type: "EmptyBatchRequest", message: "There should be at least one \(kind) in the request.")
        }
        guard entries.count <= 10 else {
            throw ServiceError(type: "TooManyEntriesInBatchRequest",
                               message: "Maximum number of entries per request are 10. You have sent \(entries.count).")
        }
        var seen: Set<String> = []
        for entry in entries {
            let id = try entry.string("Id")
            guard QueueName.isValid(id) else {
                throw ServiceError(type: "InvalidBatchEntryId",
                                   message: "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")
            }
            guard seen.insert(id).inserted else {
                throw ServiceError(type: "BatchEntryIdsNotDistinct", message: "Id \(id) repeated.")
            }
        }
        return entries
    }
}
