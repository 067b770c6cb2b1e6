/// An HTTP destination's URL, read strictly: `http://` or `https://`, a host (a name, an IPv4
/// address or a bracketed IPv6 address), an optional port from 1 to 65535, then a path and query
/// of printable ASCII. Checked where a URL is accepted (destinations, subscriptions, rule
/// targets) and again before each POST, so that no stored URL can reach the HTTP client in a
/// shape it traps on (a port of 99999 once crashed the host at every delivery).
public struct HTTPEndpoint: Sendable, Hashable {
    public var secure: Bool
    public var host: String
    public var port: Int
    /// From the first `/` (or `?`) on; "/" when the URL has none.
    public var path: String

    public static let maximumLength = 2048

    public init?(_ url: String) {
        guard url.utf8.count <= Self.maximumLength,
              url.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }  // printable ASCII, no spaces
        let rest: Substring
        if url.hasPrefix("https://") {
            secure = true
            rest = url.dropFirst("https://".count)
        } else if url.hasPrefix("http://") {
            secure = false
            rest = url.dropFirst("http://".count)
        } else {
            return nil
        }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        path = authorityEnd == rest.endIndex ? "/" : String(rest[authorityEnd...])
        guard !authority.contains("@") else { return nil }  // no credentials in destination URLs
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            let address = authority[authority.index(after: authority.startIndex)..<close]
            guard !address.isEmpty, address.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
            host = String(address)
        } else {
            if let colon = authority.lastIndex(of: ":") {
                portText = authority[authority.index(after: colon)...]
                authority = authority[..<colon]
            }
            guard (1...253).contains(authority.count),
                  authority.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_") }) else { return nil }
            host = String(authority)
        }
        if let portText {
            guard (1...5).contains(portText.count), portText.allSatisfy(\.isASCII), portText.allSatisfy(\.isNumber),
                  let number = Int(portText), (1...65_535).contains(number) else { return nil }
            port = number
        } else {
            port = secure ? 443 : 80
        }
    }
}
