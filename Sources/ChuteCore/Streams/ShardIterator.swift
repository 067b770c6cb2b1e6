/// A shard iterator as GetShardIterator hands it out and GetRecords takes it back: the stream,
/// the shard and where reading continues, as opaque base64 text (`v1/SHARD/WHERE/STREAM`).
///
/// Tokens come back from clients, so decoding trusts nothing: a token that does not decode to a
/// shard index, a position Chute can read from, and a stream name is refused, never trapped on.
public struct ShardIterator: Sendable, Hashable {
    public var stream: String
    public var shard: Int
    public var position: StreamPosition

    /// Most shards a stream has; a token naming a higher index is not one of ours.
    public static let maximumShardIndex = 9_999
    /// Longest token decoded (a 128-character stream name fits many times over).
    public static let maximumTokenLength = 1024

    public init(stream: String, shard: Int, position: StreamPosition) {
        self.stream = stream
        self.shard = shard
        self.position = position
    }

    public var token: String {
        let where_: String = switch position {
        case .trimHorizon: "trim"
        case .atSequence(let sequence): "at/\(sequence)"
        case .afterSequence(let sequence): "after/\(sequence)"
        case .atTimestamp(let time): "time/\(time)"
        }
        return Base64.encode(Array("v1/\(shard)/\(where_)/\(stream)".utf8))
    }

    /// The iterator a token stands for; nil for anything that is not a token of ours.
    public init?(token: String) {
        guard token.utf8.count <= Self.maximumTokenLength, let data = Base64.decode(token) else { return nil }
        let parts = String(decoding: data, as: UTF8.self).split(separator: "/", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0] == "v1", parts[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              let shard = Int(parts[1]), (0...Self.maximumShardIndex).contains(shard) else { return nil }
        switch parts[2] {
        case "trim" where parts.count == 4:
            position = .trimHorizon
        case "at" where parts.count == 5:
            guard let value = StreamRecord.sequence(String(parts[3])) else { return nil }
            position = .atSequence(value)
        case "after" where parts.count == 5:
            guard let value = StreamRecord.sequence(String(parts[3])) else { return nil }
            position = .afterSequence(value)
        case "time" where parts.count == 5:
            guard let value = Int64(parts[3]) else { return nil }
            position = .atTimestamp(value)
        default:
            return nil
        }
        guard let name = parts.last.map(String.init), StreamName.isValid(name) else { return nil }
        self.shard = shard
        stream = name
    }
}
