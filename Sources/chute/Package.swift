import ArgumentParser
import ChuteCore
import ChuteHost

/// `chute package LIBRARY --output FILE.zip`: a deployable zip of a handler library.
struct PackageHandler: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "package",
        abstract: "Check a handler library and package it as a deployable zip (library + chute.yaml).")

    @Argument(help: "Path of the handler library (.so).") var library: String
    @Option(help: "Entry point symbol.") var handler = HandlerReference.defaultSymbol
    @Option(help: "Function name in the manifest (default: the module's name).") var name: String?
    @Option(name: .shortAndLong, help: "Path of the zip to write.") var output: String

    func run() throws {
        do {
            let summary = try HandlerPackage.create(library: library, symbol: handler, functionName: name, output: output)
            print("packaged \(summary.moduleName) into \(summary.archive) (Handler: \(summary.handlerField))")
        } catch let error as PackageError {
            throw ValidationError(error.description)
        }
    }
}
