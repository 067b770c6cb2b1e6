/// One request to run a function's handler on an event.
public struct Invocation: Sendable, Hashable {
    /// Stays the same across retries of an event, so handlers can deduplicate.
    public var requestID: String
    /// 1 for the first attempt, 2 for the first retry, ...
    public var attempt: Int
    public var payload: [UInt8]

    public init(requestID: String = RequestID.make(), attempt: Int = 1, payload: [UInt8]) {
        self.requestID = requestID
        self.attempt = attempt
        self.payload = payload
    }
}

/// Request ids: random UUIDs in Lambda's lowercase form.
public enum RequestID {
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]], as: UTF8.self)
        }
        return [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }.joined(separator: "-")
    }
}
