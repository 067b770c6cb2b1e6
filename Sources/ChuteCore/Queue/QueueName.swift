/// SQS's rule for queue names: 1-80 letters, digits, hyphens and underscores.
public enum QueueName {
    public static func isValid(_ name: String) -> Bool {
        (1...80).contains(name.count) && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}
