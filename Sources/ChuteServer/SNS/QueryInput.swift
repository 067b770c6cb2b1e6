import ChuteCore
import Foundation

/// The parameters of an AWS query-protocol request (`application/x-www-form-urlencoded`:
/// `Action=Publish&TopicArn=…&MessageAttributes.entry.1.Name=…`), with the lists and maps the
/// protocol flattens into numbered keys.
struct QueryInput: Sendable {
    let values: [String: String]

    init(form: String) {
        var values: [String: String] = [:]
        for pair in form.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text) }
            values[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        self.values = values
    }

    subscript(key: String) -> String? { values[key] }

    func required(_ key: String) throws(ServiceError) -> String {
        guard let value = values[key], !value.isEmpty else {
            throw ServiceError(type: "InvalidParameter", message: "Invalid parameter: \(key) is required")
        }
        return value
    }

    /// `PREFIX.1…`, `PREFIX.2…` in order: the numbers present under `prefix`.
    func indices(under prefix: String) -> [Int] {
        Set(values.keys.compactMap { key -> Int? in
            guard key.hasPrefix(prefix + ".") else { return nil }
            return Int(key.dropFirst(prefix.count + 1).prefix { $0.isNumber })
        }).sorted()
    }

    /// A map flattened as `PREFIX.entry.N.key` / `PREFIX.entry.N.value` (SNS's `Attributes`).
    func map(_ prefix: String) -> [(String, String)] {
        indices(under: prefix + ".entry").compactMap { index in
            guard let key = values["\(prefix).entry.\(index).key"] else { return nil }
            return (key, values["\(prefix).entry.\(index).value"] ?? "")
        }
    }

    /// Message attributes flattened as `PREFIX.entry.N.Name`, `.Value.DataType`,
    /// `.Value.StringValue` or `.Value.BinaryValue`.
    func messageAttributes(_ prefix: String) throws(ServiceError) -> [MessageAttribute] {
        var attributes: [MessageAttribute] = []
        let entries = indices(under: prefix + ".entry")
        guard entries.count <= MessageAttribute.maximumCount else {
            throw ServiceError(type: "InvalidParameter",
                               message: "Invalid parameter: MessageAttributes: at most \(MessageAttribute.maximumCount) attributes, not \(entries.count)")
        }
        for index in entries {
            let base = "\(prefix).entry.\(index)"
            guard let name = values["\(base).Name"], !name.isEmpty else {
                throw ServiceError(type: "InvalidParameter", message: "Invalid parameter: MessageAttributes: an attribute has no name")
            }
            guard let type = values["\(base).Value.DataType"], !type.isEmpty else {
                throw ServiceError(type: "ParameterValueInvalid", message: "The message attribute '\(name)' must contain non-empty message attribute type.")
            }
            if let problem = MessageAttribute.nameProblem(name) {
                throw ServiceError(type: "InvalidParameter", message: "Invalid parameter: MessageAttributes: \(problem)")
            }
            if let binary = values["\(base).Value.BinaryValue"], Base64.decode(binary) == nil {
                throw ServiceError(type: "ParameterValueInvalid", message: "The message attribute '\(name)' has a BinaryValue that is not base64.")
            }
            guard let value = values["\(base).Value.StringValue"] ?? values["\(base).Value.BinaryValue"] else {
                throw ServiceError(type: "ParameterValueInvalid", message: "The message attribute '\(name)' must contain non-empty message attribute value.")
            }
            if type.hasPrefix("Number"), !MessageAttribute.isValidNumber(value) {
                throw ServiceError(type: "ParameterValueInvalid",
                                   message: "Could not cast message attribute '\(name)' value to number.")
            }
            attributes.append(MessageAttribute(name: name, dataType: type, value: value))
        }
        return attributes
    }
}

/// XML as the query protocol answers.
enum QueryXML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }

    /// `<ACTIONResponse xmlns=…><ACTIONResult>RESULT</ACTIONResult><ResponseMetadata>…</ResponseMetadata></ACTIONResponse>`
    static func response(_ action: String, namespace: String, result: String?) -> String {
        let body = result.map { "<\(action)Result>\($0)</\(action)Result>" } ?? ""
        return "<\(action)Response xmlns=\"\(namespace)\">\(body)<ResponseMetadata><RequestId>\(RequestID.make())</RequestId></ResponseMetadata></\(action)Response>"
    }

    static func element(_ name: String, _ value: String) -> String { "<\(name)>\(escape(value))</\(name)>" }

    /// `<Attributes><entry><key>K</key><value>V</value></entry>…</Attributes>`
    static func attributes(_ pairs: [(String, String)]) -> String {
        "<Attributes>" + pairs.map { "<entry>\(element("key", $0.0))\(element("value", $0.1))</entry>" }.joined() + "</Attributes>"
    }

    static func error(_ error: ServiceError, namespace: String) -> String {
        let type = error.statusCode >= 500 ? "Receiver" : "Sender"
        return "<ErrorResponse xmlns=\"\(namespace)\"><Error><Type>\(type)</Type>\(element("Code", error.type))\(element("Message", error.message))</Error><RequestId>\(RequestID.make())</RequestId></ErrorResponse>"
    }
}
