/// Why a handler library cannot be used. Thrown: a bad library is a configuration problem, found
/// when a function is loaded, not an invocation outcome. Every message names the file or symbol.
public struct HandlerLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        case fileNotFound
        case notSharedObject
        case wrongArchitecture
        case unresolvedDependency
        case unresolvedSymbol
        case loadFailed
        case missingModuleSymbol
        case missingEntrySymbol
        case missingFreeFunction
        case moduleInfoMissing
        case moduleInfoTooSmall
        case abiVersionMismatch
        case signatureUnsupported
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
