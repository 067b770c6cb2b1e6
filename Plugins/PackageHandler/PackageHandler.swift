import Foundation
import PackagePlugin

/// `swift package package-handler --product NAME [--output FILE.zip]`: builds a handler product
/// (a dynamic library, e.g. one written with the ChuteHandler SDK) in release mode and packages it
/// as a deployable zip with `chute package`, which checks the library speaks the Chute ABI first.
@main
struct PackageHandler: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        var extractor = ArgumentExtractor(arguments)
        guard let productName = extractor.extractOption(named: "product").first else {
            throw PluginError("usage: swift package package-handler --product NAME [--output FILE.zip]")
        }
        let output = extractor.extractOption(named: "output").first
            ?? context.pluginWorkDirectoryURL.appendingPathComponent("\(productName).zip").path
        guard let product = try context.package.products(named: [productName]).first as? LibraryProduct,
              product.kind == .dynamic else {
            throw PluginError("\(productName) is not a dynamic library product: declare it with .library(name:type: .dynamic, targets:)")
        }
        let build = try packageManager.build(.product(product.name), parameters: .init(configuration: .release))
        guard build.succeeded else { throw PluginError("building \(productName) failed:\n\(build.logText)") }
        guard let library = build.builtArtifacts.first(where: { $0.kind == .dynamicLibrary }) else {
            throw PluginError("building \(productName) produced no shared library")
        }
        let chute = try context.tool(named: "chute")
        let process = Process()
        process.executableURL = chute.url
        process.arguments = ["package", library.url.path, "--output", output]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw PluginError("chute package failed for \(library.url.path)") }
    }
}

struct PluginError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
