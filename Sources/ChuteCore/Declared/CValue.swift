/// One argument or return value of a declared-signature call.
public enum CValue: Sendable, Hashable {
    case int32(Int32)
    case int64(Int64)
    case double(Double)
    case bool(Bool)
    /// The string's bytes without the terminating NUL; nil is a NULL pointer.
    case cstring([UInt8]?)
    case bytes([UInt8])
    case void
}
