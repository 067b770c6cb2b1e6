/// PostgreSQL array literals, so that one statement writes or matches many rows
/// (`unnest(?::text[], ?::bigint[])`): one round trip for a batch instead of one a row.
enum PostgresArray {
    static func text(_ values: [String?]) -> PostgresValue {
        var literal = "{"
        for (index, value) in values.enumerated() {
            if index > 0 { literal += "," }
            guard let value else {
                literal += "NULL"
                continue
            }
            literal += "\""
            for character in value.unicodeScalars {
                if character == "\"" || character == "\\" { literal += "\\" }
                literal.unicodeScalars.append(character)
            }
            literal += "\""
        }
        return .text(literal + "}")
    }

    static func integers(_ values: [Int64]) -> PostgresValue {
        .text("{" + values.map(String.init).joined(separator: ",") + "}")
    }

    /// bytea elements in hex (`"\\x0a0b"`: the array literal escapes the backslash).
    static func bytes(_ values: [[UInt8]]) -> PostgresValue {
        let digits = Array("0123456789abcdef".utf8)
        var literal: [UInt8] = [UInt8(ascii: "{")]
        literal.reserveCapacity(values.reduce(2) { $0 + 2 * $1.count + 6 })
        for (index, value) in values.enumerated() {
            if index > 0 { literal.append(UInt8(ascii: ",")) }
            literal += Array(#""\\x"#.utf8)
            for byte in value {
                literal.append(digits[Int(byte >> 4)])
                literal.append(digits[Int(byte & 0x0f)])
            }
            literal.append(UInt8(ascii: "\""))
        }
        literal.append(UInt8(ascii: "}"))
        return .text(String(decoding: literal, as: UTF8.self))
    }
}
