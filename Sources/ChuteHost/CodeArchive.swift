import Foundation
import ZIPFoundation

/// Unpacking a function's code zip (CreateFunction, UpdateFunctionCode) without trusting it: every
/// entry must stay inside the target directory (no absolute paths, no `..`, no symbolic links), and
/// the zip and its contents stay within Lambda's size limits, counted as bytes are inflated, so a
/// zip bomb that lies about its sizes stops at the limit.
public enum CodeArchive {
    public struct Limits: Sendable {
        /// Lambda's limit for a zip uploaded directly: 50 MB.
        public var zippedBytes = 50 * 1_048_576
        /// Lambda's limit for the unzipped code: 250 MB.
        public var unzippedBytes = 250 * 1_048_576
        public var entries = 10_000

        public init() {}
    }

    /// Unpacks `zip` into `directory`, which must not exist yet. On failure nothing is left behind.
    public static func unpack(_ zip: Data, into directory: String, limits: Limits = Limits()) throws(CodeArchiveError) {
        guard zip.count <= limits.zippedBytes else {
            throw CodeArchiveError("the zip is \(zip.count) bytes; the limit is \(limits.zippedBytes) bytes")
        }
        // Read from a file, not from memory: ZIPFoundation's in-memory archive traps on a zip whose
        // offsets point past its end (a fuzzer found one); its file reader reads such offsets as
        // the end of the file.
        let copy = directory + ".zip"
        try? FileManager.default.createDirectory(atPath: (directory as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: copy, contents: zip) else {
            throw CodeArchiveError("cannot write the zip to \(copy)")
        }
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: copy), accessMode: .read)
        } catch {
            throw CodeArchiveError("Could not unzip uploaded file. Please check your file, then try to upload again. (\(error))")
        }
        let root = URL(fileURLWithPath: directory, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            try extract(archive, into: root, limits: limits)
        } catch {
            try? FileManager.default.removeItem(at: root)
            if let error = error as? CodeArchiveError { throw error }
            throw CodeArchiveError("cannot unpack the zip into \(directory): \(error)")
        }
    }

    private static func extract(_ archive: Archive, into root: URL, limits: Limits) throws {
        var entries = 0
        var written = 0
        for entry in archive {
            entries += 1
            guard entries <= limits.entries else { throw CodeArchiveError("the zip has more than \(limits.entries) entries") }
            let components = try safeComponents(entry.path)
            guard !components.isEmpty else { continue }
            let target = components.reduce(root) { $0.appendingPathComponent($1) }
            switch entry.type {
            case .symlink:
                throw CodeArchiveError("the zip entry \(entry.path) is a symbolic link; code packages may hold only files and directories")
            case .directory:
                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            case .file:
                try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                guard FileManager.default.createFile(atPath: target.path, contents: nil) else {
                    throw CodeArchiveError("cannot create \(target.path)")
                }
                let handle = try FileHandle(forWritingTo: target)
                defer { try? handle.close() }
                _ = try archive.extract(entry) { chunk in
                    written += chunk.count
                    guard written <= limits.unzippedBytes else {
                        throw CodeArchiveError("the unzipped code is larger than \(limits.unzippedBytes) bytes")
                    }
                    try handle.write(contentsOf: chunk)
                }
            }
        }
    }

    /// The entry's path as components inside the root; throws for paths that would leave it.
    public static func safeComponents(_ path: String) throws(CodeArchiveError) -> [String] {
        guard !path.hasPrefix("/"), !path.contains("\\"), !path.contains("\0") else {
            throw CodeArchiveError("the zip entry \(path) has an absolute or non-portable path")
        }
        let components = path.split(separator: "/").map(String.init).filter { $0 != "." }
        guard !components.contains("..") else {
            throw CodeArchiveError("the zip entry \(path) would be written outside the function's directory")
        }
        return components
    }
}

public struct CodeArchiveError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
