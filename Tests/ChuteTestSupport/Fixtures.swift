import Foundation

/// Paths of built products and test fixtures.
public enum Fixtures {
    /// The package root (this file is Tests/ChuteTestSupport/Fixtures.swift).
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static var headerDirectory: String { packageRoot + "/runtime-api" }

    /// The build directory holding the test bundle, chute-worker and the handler libraries.
    public static let buildDirectory: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe)
        url.deleteLastPathComponent()
        return url.path
    }()

    /// libChuteFaults.so, built by `swift build` (the README's test command builds it first).
    public static var faultsLibrary: String { product("libChuteFaults.so") }

    public static func product(_ name: String) -> String {
        let path = buildDirectory + "/" + name
        precondition(FileManager.default.fileExists(atPath: path), "\(path) is missing: run `swift build` before `swift test` (see README)")
        return path
    }

    /// A scratch directory for this test process.
    public static let scratch: String = {
        let path = NSTemporaryDirectory() + "chute-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    private static let lock = NSLock()

    /// Compiles C `source` into a shared library named `name` and returns its path.
    public static func compileC(_ name: String, source: String, flags: [String] = ["-shared", "-fPIC"], fileName: String? = nil) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        let sourcePath = "\(scratch)/\(name).c"
        let output = "\(scratch)/\(fileName ?? "lib\(name).so")"
        if FileManager.default.fileExists(atPath: output) { return output }
        try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
        try run("/usr/bin/cc", ["-std=gnu11", "-Wall", "-O1", "-I", headerDirectory, "-o", output, sourcePath] + flags)
        return output
    }

    /// Compiles C++ `sourceFile` into a shared library named `name` and returns its path.
    public static func compileCXX(_ name: String, sourceFile: String) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        let output = "\(scratch)/lib\(name).so"
        if FileManager.default.fileExists(atPath: output) { return output }
        try run("/usr/bin/c++", ["-std=c++17", "-Wall", "-O1", "-shared", "-fPIC", "-I", headerDirectory, "-o", output, sourceFile])
        return output
    }

    /// Builds the Rust example handler with cargo (no crates, offline) and returns its library.
    public static func buildRustExample() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        let target = "\(scratch)/rust-target"
        try run("/usr/bin/env", ["cargo", "build", "--release", "--offline", "--quiet"],
                directory: packageRoot + "/examples/handlers/rust",
                environment: ["CARGO_TARGET_DIR": target, "PATH": (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":" + NSHomeDirectory() + "/.cargo/bin"])
        return target + "/release/libchute_rust_example.so"
    }

    /// Runs a program and fails with its output if it exits non-zero.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], directory: String? = nil, environment: [String: String]? = nil) throws -> String {
        let result = try capture(executable, arguments, directory: directory, environment: environment, separateStandardError: false)
        guard result.status == 0 else {
            throw FixtureError("\(executable) \(arguments.joined(separator: " ")) failed (\(result.status)):\n\(result.stdout)")
        }
        return result.stdout
    }

    /// What a finished program printed and how it exited.
    public struct Captured: Sendable {
        public var status: Int32
        public var stdout: String
        /// Empty unless standard error was kept apart.
        public var stderr: String
    }

    /// Runs a program to its end. Standard error is either merged into standard output or written
    /// to a file and read back, so that one pipe is read to its end without another filling up.
    public static func capture(_ executable: String, _ arguments: [String], directory: String? = nil, environment: [String: String]? = nil,
                               separateStandardError: Bool = true) throws -> Captured {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let pipe = Pipe()
        process.standardOutput = pipe
        var errorPath: String?
        var errorFile: FileHandle?
        if separateStandardError {
            let path = scratch + "/stderr-\(UUID().uuidString)"
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            errorFile = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            errorPath = path
            process.standardError = errorFile
        } else {
            process.standardError = pipe
        }
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try errorFile?.close()
        let errorText = errorPath.map { String(decoding: FileManager.default.contents(atPath: $0) ?? Data(), as: UTF8.self) } ?? ""
        return Captured(status: process.terminationStatus, stdout: String(decoding: data, as: UTF8.self), stderr: errorText)
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
