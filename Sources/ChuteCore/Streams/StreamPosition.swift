/// Where reading a shard starts.
public enum StreamPosition: Sendable, Hashable {
    /// The oldest record still retained.
    case trimHorizon
    case atSequence(UInt64)
    case afterSequence(UInt64)
    /// The first record that arrived at or after this time (milliseconds since the epoch).
    case atTimestamp(Int64)
}
