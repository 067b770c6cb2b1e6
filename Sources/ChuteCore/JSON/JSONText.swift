import FoundationEssentials

/// Writing JSON by hand where the key order is part of the contract (AWS records), and embedding
/// payloads verbatim when they already are JSON.
public enum JSONText {
    /// `text` as a JSON string literal.
    public static func quote(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// True when `bytes` are one complete JSON value (object, array, string, number, bool, null).
    public static func isValid(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return false }
        return (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))) != nil
    }

    /// `bytes` as they are when they are JSON, otherwise as a JSON string of their UTF-8 text.
    public static func embed(_ bytes: [UInt8]) -> String {
        isValid(bytes) ? String(decoding: bytes, as: UTF8.self) : quote(String(decoding: bytes, as: UTF8.self))
    }

    /// A JSON object whose members are strings or numbers, each as text (SQS's string-valued
    /// policies accept `"5"` and `5` alike); nil when `text` is not such an object.
    public static func flatObject(_ text: String) -> [String: String]? {
        guard let members = try? JSONDecoder().decode([String: JSONValue].self, from: Data(text.utf8)) else { return nil }
        var flat: [String: String] = [:]
        for (key, value) in members {
            switch value {
            case .string(let string): flat[key] = string
            case .integer(let integer): flat[key] = String(integer)
            case .number(let number): flat[key] = String(number)
            case .bool(let flag): flat[key] = String(flag)
            default: return nil
            }
        }
        return flat
    }

    /// `{"k":v,...}` from already-encoded values, in the order given.
    public static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { quote($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }
}

/// Wall-clock timestamps as AWS writes them.
public enum Timestamps {
    /// `2019-11-14T18:16:05.568Z` for milliseconds since the Unix epoch (UTC, proleptic Gregorian).
    public static func iso8601(milliseconds: Int64) -> String {
        let (days, dayMilliseconds) = floorDivide(milliseconds, 86_400_000)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let seconds = dayMilliseconds / 1000
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(seconds / 3600, 2) + ":"
            + pad(seconds / 60 % 60, 2) + ":" + pad(seconds % 60, 2) + "." + pad(dayMilliseconds % 1000, 3) + "Z"
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let quotient = value >= 0 ? value / divisor : (value - divisor + 1) / divisor
        return (quotient, value - quotient * divisor)
    }

    /// Howard Hinnant's days-to-civil algorithm.
    private static func civilDate(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthPrime = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthPrime + 2) / 5 + 1
        let month = monthPrime < 10 ? monthPrime + 3 : monthPrime - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
