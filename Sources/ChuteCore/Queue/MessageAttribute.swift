/// A message attribute as SQS and SNS carry it: `String`, `Number` or `Binary` (optionally with a
/// custom suffix such as `Number.float`), the value as text (base64 for binary values).
public struct MessageAttribute: Sendable, Hashable, Codable {
    public var name: String
    public var dataType: String
    public var value: String

    public init(name: String, dataType: String, value: String) {
        self.name = name
        self.dataType = dataType
        self.value = value
    }
}
