import ChuteCore
import Yams

/// Built-in streams as the configuration file declares them:
///
/// ```yaml
/// streams:
///   - {name: clicks, shards: 4, retentionHours: 24}
/// ```
extension ConfigurationFile {
    public struct StreamDeclaration: Sendable, Hashable {
        public var name: String
        public var shardCount: Int
        public var retentionHours: Int
    }

    static func parseStreams(_ node: Node, problems: inout [String]) -> [StreamDeclaration] {
        guard let list = node.sequence else {
            problems.append("\(at(node)): streams must be a list")
            return []
        }
        var streams: [StreamDeclaration] = []
        for (index, item) in list.enumerated() {
            let path = "streams[\(index)]"
            guard let fields = item.mapping else {
                problems.append("\(at(item)): \(path): must be a mapping with name, shards and retentionHours")
                continue
            }
            let allowed: Set<String> = ["name", "shards", "retentionHours"]
            for (key, _) in fields where !allowed.contains(key.string ?? "") {
                problems.append("\(at(key)): \(path).\(key.string ?? "?"): unknown field; expected one of \(allowed.sorted().joined(separator: ", "))")
            }
            let before = problems.count
            let name = fields["name"]?.string ?? ""
            if !StreamName.isValid(name) {
                problems.append("\(at(item)): \(path).name: '\(name)' must be 1-128 letters, digits and _ . -")
            }
            let shards = fields["shards"].map { $0.int ?? 0 } ?? 1
            if !(1...256).contains(shards) { problems.append("\(at(item)): \(path).shards: must be a whole number from 1 to 256") }
            let retention = fields["retentionHours"].map { $0.int ?? 0 } ?? 24
            if !(24...168).contains(retention) { problems.append("\(at(item)): \(path).retentionHours: must be a whole number from 24 to 168") }
            if problems.count == before { streams.append(StreamDeclaration(name: name, shardCount: shards, retentionHours: retention)) }
        }
        return streams
    }
}
