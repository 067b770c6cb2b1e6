import ArgumentParser
import ChuteABI
import ChuteCore
import Foundation

/// `chute inspect LIBRARY`: the module info and which hooks exist.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a handler library's module info and the entry points it exports.")

    @Argument(help: "Path of the handler library.") var library: String
    @Option(help: "Also check for this entry point symbol.") var handler: String?

    func run() throws {
        do {
            let (info, hooks) = try HandlerModule.inspect(path: library)
            print("library:      \(library)")
            print("module:       \(info.name ?? "(unnamed)") \(info.version ?? "")")
            print("abi:          \(info.abiMajor).\(info.abiMinor) (host implements \(HostABI.major).\(HostABI.minor))")
            print("thread-safe:  \(info.isThreadSafe ? "yes" : "no")")
            print("hooks:        \(hooks.joined(separator: ", "))")
            if let handler {
                let found = (try? HandlerModule.load(path: library, handler: .entryPoint(symbol: handler))) != nil
                print("entry \(handler): \(found ? "present" : "MISSING")")
                if !found { throw ExitCode(1) }
            }
        } catch let error as HandlerLoadError {
            FileHandle.standardError.write(Data("chute: \(error.code.rawValue): \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}
