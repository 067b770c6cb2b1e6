import ChuteCore
import Foundation

/// The members of a JSON-protocol request (SQS's JSON 1.0, EventBridge's and Kinesis's 1.1),
/// read with the types the service model gives them.
///
/// Foundation's parser hands back `NSNumber`s that convert loosely (`true as? Int` is 1,
/// `1e300 as? Int` is nil, so a default would quietly stand in). Here a member of the wrong JSON
/// type, or a number that is not a whole number where one is expected, is the
/// `SerializationException` AWS answers; ranges and patterns are each operation's to check, in
/// its service's words.
struct RequestFields {
    let members: [String: Any]

    init(_ members: [String: Any]) { self.members = members }

    /// A request body: `{}` when empty, otherwise a JSON object or a `SerializationException`.
    init(body: some Collection<UInt8>) throws(ServiceError) {
        guard !body.isEmpty else {
            self.init([:])
            return
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(body))
        } catch {
            throw ServiceError(type: "SerializationException", message: "The request body is not valid JSON.")
        }
        guard let object = parsed as? [String: Any] else {
            throw ServiceError(type: "SerializationException", message: "The request body must be a JSON object.")
        }
        self.init(object)
    }

    static func wrongType(_ name: String, _ expected: String) -> ServiceError {
        ServiceError(type: "SerializationException", message: "Member \(name) must be \(expected).")
    }

    /// Whether the member is present (and not `null`).
    func has(_ name: String) -> Bool {
        guard let value = members[name] else { return false }
        return !(value is NSNull)
    }

    func string(_ name: String) throws(ServiceError) -> String? {
        guard has(name) else { return nil }
        guard let text = members[name] as? String else { throw Self.wrongType(name, "a string") }
        return text
    }

    /// A whole number (1e300, 1.5 and 2⁶⁴ are not).
    func integer(_ name: String) throws(ServiceError) -> Int? {
        guard has(name) else { return nil }
        guard let number = Self.integer(members[name]!) else { throw Self.wrongType(name, "a whole number") }
        return number
    }

    func number(_ name: String) throws(ServiceError) -> Double? {
        guard has(name) else { return nil }
        guard let number = members[name] as? NSNumber, !Self.isBool(number), let value = members[name] as? Double, value.isFinite else {
            throw Self.wrongType(name, "a number")
        }
        return value
    }

    func bool(_ name: String) throws(ServiceError) -> Bool? {
        guard has(name) else { return nil }
        guard let number = members[name] as? NSNumber, Self.isBool(number) else { throw Self.wrongType(name, "true or false") }
        return number.boolValue
    }

    func object(_ name: String) throws(ServiceError) -> RequestFields? {
        guard has(name) else { return nil }
        guard let object = members[name] as? [String: Any] else { throw Self.wrongType(name, "an object") }
        return RequestFields(object)
    }

    /// A list of objects.
    func objects(_ name: String) throws(ServiceError) -> [RequestFields]? {
        guard has(name) else { return nil }
        guard let list = members[name] as? [Any] else { throw Self.wrongType(name, "a list") }
        var objects: [RequestFields] = []
        objects.reserveCapacity(list.count)
        for item in list {
            guard let object = item as? [String: Any] else { throw Self.wrongType(name, "a list of objects") }
            objects.append(RequestFields(object))
        }
        return objects
    }

    func strings(_ name: String) throws(ServiceError) -> [String]? {
        guard has(name) else { return nil }
        guard let list = members[name] as? [Any] else { throw Self.wrongType(name, "a list") }
        var strings: [String] = []
        strings.reserveCapacity(list.count)
        for item in list {
            guard let text = item as? String else { throw Self.wrongType(name, "a list of strings") }
            strings.append(text)
        }
        return strings
    }

    /// A map of strings to strings.
    func stringMap(_ name: String) throws(ServiceError) -> [String: String]? {
        guard has(name) else { return nil }
        guard let map = members[name] as? [String: Any] else { throw Self.wrongType(name, "a map") }
        var strings: [String: String] = [:]
        for (key, item) in map {
            guard let text = item as? String else { throw Self.wrongType("\(name).\(key)", "a string") }
            strings[key] = text
        }
        return strings
    }

    /// A time as AWS's JSON protocols send it (seconds since the epoch), in milliseconds; a number
    /// outside years 1 to 9999 is a `ValidationException` naming the member.
    func timestamp(_ name: String) throws(ServiceError) -> Int64? {
        guard let seconds = try number(name) else { return nil }
        guard let milliseconds = Timestamps.milliseconds(fromSeconds: seconds) else {
            throw ServiceError.validation(["Value '\(seconds)' at '\(Self.lowerFirst(name))' failed to satisfy constraint: Member must be a time between the years 1 and 9999"])
        }
        return milliseconds
    }

    static func lowerFirst(_ text: String) -> String { text.prefix(1).lowercased() + text.dropFirst() }

    // MARK: Foundation's numbers

    /// JSON's `true` and `false` arrive as `NSNumber`s of type `c`, numbers never do.
    static func isBool(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    /// The whole number in a parsed JSON value, nil for anything else (booleans included).
    static func integer(_ value: Any) -> Int? {
        guard let number = value as? NSNumber, !isBool(number) else { return nil }
        return value as? Int  // nil for fractions and for numbers past Int's range
    }
}
