import FoundationEssentials

/// Writing JSON by hand where the key order is part of the contract (AWS records), and embedding
/// payloads verbatim when they already are JSON.
public enum JSONText {
    /// `text` as a JSON string literal.
    public static func quote(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 2)
        appendQuoted(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `text` as a JSON string literal. Works on UTF-8 bytes: only `"`, `\` and control
    /// characters need escaping, and none of them occurs inside a multi-byte character.
    public static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\n"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case UInt8(ascii: "\t"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0x00..<0x20:
                out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "u")); out.append(UInt8(ascii: "0")); out.append(UInt8(ascii: "0"))
                out.append(hex.utf8Start[Int(byte >> 4)])
                out.append(hex.utf8Start[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// True when `bytes` are one complete JSON value (object, array, string, number, bool, null).
    public static func isValid(_ bytes: [UInt8]) -> Bool {
        JSONSyntax.isValid(bytes)
    }

    /// `bytes` as they are when they are JSON, otherwise as a JSON string of their UTF-8 text.
    public static func embed(_ bytes: [UInt8]) -> String {
        isValid(bytes) ? String(decoding: bytes, as: UTF8.self) : quote(String(decoding: bytes, as: UTF8.self))
    }

    /// Appends `bytes` as they are when they are JSON, otherwise as a JSON string of their text.
    public static func appendEmbedded(_ bytes: [UInt8], to out: inout [UInt8]) {
        if isValid(bytes) {
            // Verbatim, but as valid UTF-8 (a stray byte inside a string becomes U+FFFD).
            out.append(contentsOf: String(decoding: bytes, as: UTF8.self).utf8)
        } else {
            appendQuoted(String(decoding: bytes, as: UTF8.self), to: &out)
        }
    }

    /// A JSON object whose members are strings or numbers, each as text (SQS's string-valued
    /// policies accept `"5"` and `5` alike); nil when `text` is not such an object.
    public static func flatObject(_ text: String) -> [String: String]? {
        // JSONValue limits nesting: this text comes from requests (SQS's RedrivePolicy).
        guard case .object(let members)? = try? JSONValue.parse(text) else { return nil }
        var flat: [String: String] = [:]
        for member in members {
            switch member.value {
            case .string(let string): flat[member.key] = string
            case .number(let number): flat[member.key] = Int64(number).map(String.init) ?? number
            case .bool(let flag): flat[member.key] = String(flag)
            default: return nil
            }
        }
        return flat
    }

    /// `{"k":v,...}` from already-encoded values, in the order given.
    public static func object(_ members: [(String, String)]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(members.reduce(2) { $0 + $1.0.utf8.count + $1.1.utf8.count + 4 })
        out.append(UInt8(ascii: "{"))
        for (index, (key, value)) in members.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendQuoted(key, to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: value.utf8)
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}

/// Wall-clock timestamps as AWS writes them.
public enum Timestamps {
    /// The times a request may give, in seconds since the epoch: years 1 to 9999, as ISO 8601
    /// writes them. Anything else (1e300, infinity) is refused before it is multiplied.
    public static let acceptedSeconds: ClosedRange<Double> = -62_135_596_800...253_402_300_799.999

    /// Milliseconds since the epoch for `seconds`; nil when it is not a time in `acceptedSeconds`.
    public static func milliseconds(fromSeconds seconds: Double) -> Int64? {
        guard seconds.isFinite, acceptedSeconds.contains(seconds) else { return nil }
        return Int64((seconds * 1000).rounded(.down))
    }

    /// `2019-11-14T18:16:05.568Z` for milliseconds since the Unix epoch (UTC, proleptic Gregorian).
    public static func iso8601(milliseconds: Int64) -> String {
        let (days, dayMilliseconds) = floorDivide(milliseconds, 86_400_000)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let seconds = dayMilliseconds / 1000
        guard (0...9999).contains(year) else {
            return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(seconds / 3600, 2) + ":"
                + pad(seconds / 60 % 60, 2) + ":" + pad(seconds % 60, 2) + "." + pad(dayMilliseconds % 1000, 3) + "Z"
        }
        // The common case, written digit by digit: one per destination record.
        return String(unsafeUninitializedCapacity: 24) { buffer in
            var position = 0
            func put(_ value: Int64, _ width: Int) {
                var divisor: Int64 = 1
                for _ in 1..<width { divisor *= 10 }
                while divisor > 0 {
                    buffer[position] = UInt8(ascii: "0") + UInt8(value / divisor % 10)
                    position += 1
                    divisor /= 10
                }
            }
            func mark(_ character: Unicode.Scalar) { buffer[position] = UInt8(ascii: character); position += 1 }
            put(year, 4); mark("-"); put(month, 2); mark("-"); put(day, 2); mark("T")
            put(seconds / 3600, 2); mark(":"); put(seconds / 60 % 60, 2); mark(":"); put(seconds % 60, 2)
            mark("."); put(dayMilliseconds % 1000, 3); mark("Z")
            return position
        }
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
