import ArgumentParser
import Glibc

@main
struct Chute: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chute",
        abstract: "Run native event handlers with AWS-Lambda-grade failure semantics.",
        subcommands: [Invoke.self, Inspect.self, PackageHandler.self, Serve.self, Events.self, Streams.self, Mappings.self])
}

extension Chute {
    /// One line to standard error (write(2): the C stdio globals are not concurrency-safe).
    static func printError(_ text: String) {
        let line = "chute: " + text + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    /// One line to standard output, written at once (so a parent reading a pipe sees it now).
    static func printLine(_ text: String) {
        let line = text + "\n"
        _ = line.withCString { write(1, $0, strlen($0)) }
    }
}
