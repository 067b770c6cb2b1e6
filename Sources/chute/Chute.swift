import ArgumentParser

@main
struct Chute: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chute",
        abstract: "Run native event handlers with AWS-Lambda-grade failure semantics.",
        subcommands: [Invoke.self, Inspect.self, PackageHandler.self])
}
