import FoundationEssentials

/// Topics, buses and mappings as both stores keep them: one JSON document each.
enum DefinitionCoding {
    static func encode(_ value: some Encodable, kind: String, arn: String) throws(StoreError) -> String {
        do {
            return String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
        } catch {
            throw StoreError("cannot encode the \(kind) \(arn): \(error)")
        }
    }

    static func decode<T: Decodable>(_ text: String, kind: String) throws(StoreError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw StoreError("a stored \(kind) cannot be read (\(error)): \(text.prefix(200))")
        }
    }
}
