import ChuteABI
import ChuteCore
import Foundation
import ZIPFoundation

/// A deployable handler package: a zip with the handler library at its root and a `chute.yaml`
/// that declares the function, so `unzip` then `chute invoke --config chute.yaml` runs it, and the
/// `Handler` field of an API (`FILE:SYMBOL`) names the library inside the zip.
public enum HandlerPackage {
    public struct Summary: Sendable {
        public var archive: String
        public var moduleName: String
        public var handlerField: String
    }

    /// Checks that `library` is a loadable Chute module exporting `symbol`, then writes the zip.
    /// Throws a message naming the file, symbol or archive that is wrong.
    public static func create(library: String, symbol: String = HandlerReference.defaultSymbol, functionName: String?,
                              output: String) throws -> Summary {
        let info: ModuleInfo
        switch check(library: library, symbol: symbol) {
        case .success(let checked): info = checked
        case .failure(let error):
            throw PackageError("\(library) cannot be packaged: \(error.code.rawValue): \(error.message)")
        }
        let fileName = URL(fileURLWithPath: library).lastPathComponent
        let name = functionName ?? info.name ?? fileName
        if let problem = FunctionLimits.nameProblem(name) {
            throw PackageError("function name '\(name)' is invalid: \(problem); pass --name")
        }
        let manifest = """
            # Written by `chute package` from \(fileName) (module \(info.name ?? "unnamed") \(info.version ?? "")).
            functions:
              - name: \(name)
                library: ./\(fileName)
                handler: \(symbol)

            """
        let outputURL = URL(fileURLWithPath: output)
        try? FileManager.default.removeItem(at: outputURL)
        do {
            let archive = try Archive(url: outputURL, accessMode: .create)
            try archive.addEntry(with: fileName, fileURL: URL(fileURLWithPath: library), compressionMethod: .deflate)
            let data = Data(manifest.utf8)
            try archive.addEntry(with: "chute.yaml", type: .file, uncompressedSize: Int64(data.count),
                                 compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        } catch {
            throw PackageError("cannot write \(output): \(error)")
        }
        return Summary(archive: output, moduleName: info.name ?? name, handlerField: "\(fileName):\(symbol)")
    }

    private static func check(library: String, symbol: String) -> Result<ModuleInfo, HandlerLoadError> {
        Result { () throws(HandlerLoadError) -> ModuleInfo in
            let info = try HandlerModule.inspect(path: library).info
            _ = try HandlerModule.load(path: library, handler: .entryPoint(symbol: symbol))
            return info
        }
    }
}

public struct PackageError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
