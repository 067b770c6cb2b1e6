/// The ARNs of topics, subscriptions, event buses and rules, as AWS writes them.
public enum MessagingARN {
    public static func topic(_ name: String, region: String, account: String) -> String {
        "arn:aws:sns:\(region):\(account):\(name)"
    }

    public static func eventBus(_ name: String, region: String, account: String) -> String {
        "arn:aws:events:\(region):\(account):event-bus/\(name)"
    }

    /// Rules on the default bus are `rule/NAME`; on any other bus `rule/BUS/NAME`.
    public static func rule(_ name: String, bus: String, region: String, account: String) -> String {
        bus == "default" ? "arn:aws:events:\(region):\(account):rule/\(name)" : "arn:aws:events:\(region):\(account):rule/\(bus)/\(name)"
    }

    /// The topic name of `arn:aws:sns:REGION:ACCOUNT:NAME`, nil for anything else.
    public static func topicName(_ arn: String) -> String? {
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "sns", !parts[5].isEmpty else { return nil }
        return String(parts[5])
    }

    /// The bus name of `arn:aws:events:REGION:ACCOUNT:event-bus/NAME`, nil for anything else.
    public static func eventBusName(_ arn: String) -> String? {
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "events", parts[5].hasPrefix("event-bus/") else { return nil }
        let name = parts[5].dropFirst("event-bus/".count)
        return name.isEmpty ? nil : String(name)
    }

    /// Topic and bus names: 1-256 letters, digits, hyphens and underscores (SNS's rule for
    /// standard topics; EventBridge also allows `.` and `/` in bus names).
    public static func isValidName(_ name: String, allowing extra: Set<Character> = []) -> Bool {
        (1...256).contains(name.count) && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || extra.contains($0)) }
    }
}
