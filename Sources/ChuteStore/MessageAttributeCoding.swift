import ChuteCore
import FoundationEssentials

/// Message attributes as both stores keep them beside a message: a JSON object of
/// `{"name": {"DataType": ..., "Value": ...}}`.
enum MessageAttributeCoding {
    static func json(_ attributes: [MessageAttribute]) -> String {
        guard !attributes.isEmpty else { return "{}" }  // invocation records to destinations carry none
        return JSONText.object(attributes.map {
            ($0.name, JSONText.object([("DataType", JSONText.quote($0.dataType)), ("Value", JSONText.quote($0.value))]))
        })
    }

    private struct StoredAttribute: Decodable {
        let DataType: String
        let Value: String
    }

    static func attributes(_ json: String) -> [MessageAttribute] {
        guard json != "{}", let decoded = try? JSONDecoder().decode([String: StoredAttribute].self, from: Data(json.utf8)) else { return [] }
        return decoded.map { MessageAttribute(name: $0.key, dataType: $0.value.DataType, value: $0.value.Value) }
            .sorted { $0.name < $1.name }
    }
}
