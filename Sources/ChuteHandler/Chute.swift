import CChuteABI
import CChuteHandlerSupport
import FoundationEssentials

/// The Swift handler SDK: write a handler as a Swift closure over Codable values, build the
/// target as a dynamic library, and the library speaks the Chute C ABI (runtime-api/chute.h).
///
///     import ChuteHandler
///
///     struct Greeting: Decodable { let name: String }
///     struct Reply: Encodable { let message: String }
///
///     @_cdecl("chute_swift_main")
///     public func chuteSwiftMain() {
///         Chute.register(name: "greeter", version: "1.0.0") { (event: Greeting, context: ChuteContext) in
///             Reply(message: "Hello, \(event.name)!")
///         }
///     }
///
/// The event is decoded from JSON and the response encoded as JSON. A thrown error is a Handled
/// error: `HandledError` sets its type and message, any other error is reported under its Swift
/// type name. A crash (a trap, a force-unwrapped nil) is an Unhandled error, as in C.
public enum Chute {
    /// Registers the library's handler. Call it once, from `chute_swift_main`.
    public static func register<Event: Decodable & SendableMetatype, Response: Encodable & SendableMetatype>(
        name: String, version: String, threadSafe: Bool = false,
        _ handler: @escaping @Sendable (Event, ChuteContext) throws -> Response
    ) {
        registerBytes(name: name, version: version, threadSafe: threadSafe) { bytes, context in
            let event: Event
            do {
                event = try JSONDecoder().decode(Event.self, from: Data(bytes))
            } catch {
                throw HandledError(type: "InvalidEvent", message: "the event does not decode as \(Event.self): \(error)")
            }
            return Array(try encoder.encode(try handler(event, context)))
        }
    }

    /// Sorted keys: the same response is the same bytes, which tests and deduplication rely on.
    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    /// Registers a handler over raw bytes, for events that are not JSON.
    public static func registerBytes(
        name: String, version: String, threadSafe: Bool = false,
        _ handler: @escaping @Sendable ([UInt8], ChuteContext) throws -> [UInt8]
    ) {
        Registry.shared.set(Registration(name: name, version: version, threadSafe: threadSafe, handler: handler))
    }
}

/// An error whose type and message the handler chooses.
public struct HandledError: Error, Sendable, CustomStringConvertible {
    public var type: String
    public var message: String

    public init(type: String, message: String) {
        self.type = type
        self.message = message
    }

    public var description: String { "\(type): \(message)" }
}
