// A Chute handler in Swift, built with the ChuteHandler SDK as the dynamic library
// libSwiftGreeter.so (`swift build --product SwiftGreeter`), packaged as a zip with
// `swift package package-handler --product SwiftGreeter`.
import ChuteHandler

struct Greeting: Decodable {
    let name: String
}

struct Reply: Encodable {
    let message: String
    let attempt: Int
}

@_cdecl("chute_swift_main")
public func chuteSwiftMain() {
    Chute.register(name: "swift-greeter", version: "1.0.0") { (event: Greeting, context: ChuteContext) in
        guard !event.name.isEmpty else {
            throw HandledError(type: "EmptyName", message: "say who to greet")
        }
        context.log("greeting \(event.name)")
        return Reply(message: "Hello, \(event.name)!", attempt: context.attempt)
    }
}
