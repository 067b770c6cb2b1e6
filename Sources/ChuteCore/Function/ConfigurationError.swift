/// A configuration value that cannot be accepted. Thrown: a bad configuration is host misuse,
/// not an invocation outcome. The message names the problem; callers prefix the field path.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
