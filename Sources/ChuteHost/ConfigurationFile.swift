import ChuteCore
import Foundation
import Yams

/// A Chute configuration file (YAML, or JSON, which YAML reads too):
///
/// ```yaml
/// functions:
///   - name: hypot
///     library: libm.so.6
///     handler: hypot(double,double)->double
///     isolation: thread        # process (default) | thread
///     timeout: 3               # seconds, 1-900
///     initTimeout: 10          # seconds, 1-900
///     memory: 128              # MB, 128-10240
///     concurrency: 10          # 1-1000
///     prewarm: 1               # instances started ahead (process isolation)
///     initConfig: "any text"   # bytes passed to chute_init
///     environment: {KEY: value}
/// ```
///
/// Every invalid field is reported, each with its line and path, before anything runs.
public struct ConfigurationFile: Sendable {
    public var functions: [FunctionConfiguration]

    public static func load(path: String) throws -> ConfigurationFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationFileError(path: path, problems: ["cannot read the file"])
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    public static func parse(_ text: String, path: String) throws -> ConfigurationFile {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigurationFileError(path: path, problems: ["the file is empty; it needs a 'functions' list"])
            }
            root = node
        } catch let error as ConfigurationFileError {
            throw error
        } catch {
            throw ConfigurationFileError(path: path, problems: ["not valid YAML or JSON: \(error)"])
        }
        var problems: [String] = []
        let baseDirectory = (path as NSString).deletingLastPathComponent
        guard let mapping = root.mapping else {
            throw ConfigurationFileError(path: path, problems: ["\(at(root)): the top level must be a mapping with a 'functions' list"])
        }
        for (key, _) in mapping where key.string != "functions" {
            problems.append("\(at(key)): unknown top-level field '\(key.string ?? "?")'; expected 'functions'")
        }
        var functions: [FunctionConfiguration] = []
        if let list = mapping["functions"] {
            if let sequence = list.sequence {
                for (index, item) in sequence.enumerated() {
                    if let function = parseFunction(item, path: "functions[\(index)]", baseDirectory: baseDirectory, problems: &problems) {
                        functions.append(function)
                    }
                }
            } else {
                problems.append("\(at(list)): functions must be a list")
            }
        } else {
            problems.append("\(at(root)): missing 'functions'")
        }
        var seen: Set<String> = []
        for function in functions where !seen.insert(function.name).inserted {
            problems.append("function name '\(function.name)' is used twice")
        }
        guard problems.isEmpty else { throw ConfigurationFileError(path: path, problems: problems) }
        return ConfigurationFile(functions: functions)
    }

    static let functionFields: Set<String> = [
        "name", "library", "handler", "isolation", "timeout", "initTimeout", "memory", "concurrency", "prewarm", "initConfig",
        "environment", "maxResponseBytes",
    ]

    private static func parseFunction(_ node: Node, path: String, baseDirectory: String, problems: inout [String]) -> FunctionConfiguration? {
        guard let mapping = node.mapping else {
            problems.append("\(at(node)): \(path) must be a mapping")
            return nil
        }
        let before = problems.count
        for (key, _) in mapping where !functionFields.contains(key.string ?? "") {
            problems.append("\(at(key)): \(path).\(key.string ?? "?"): unknown field; expected one of \(functionFields.sorted().joined(separator: ", "))")
        }
        func string(_ field: String, required: Bool = false) -> String? {
            guard let value = mapping[field] else {
                if required { problems.append("\(at(node)): \(path).\(field): missing") }
                return nil
            }
            guard let text = value.string, value.scalar != nil else {
                problems.append("\(at(value)): \(path).\(field): must be a string")
                return nil
            }
            return text
        }
        func number(_ field: String) -> Double? {
            guard let value = mapping[field] else { return nil }
            guard let number = value.float ?? value.int.map(Double.init) else {
                problems.append("\(at(value)): \(path).\(field): must be a number, got '\(value.string ?? "a collection")'")
                return nil
            }
            return number
        }
        func integer(_ field: String) -> Int? {
            guard let value = mapping[field] else { return nil }
            guard let number = value.int else {
                problems.append("\(at(value)): \(path).\(field): must be a whole number, got '\(value.string ?? "a collection")'")
                return nil
            }
            return number
        }
        let name = string("name", required: true) ?? ""
        var library = string("library", required: true) ?? ""
        if library.contains("/") && !library.hasPrefix("/") && !baseDirectory.isEmpty {
            library = (baseDirectory as NSString).appendingPathComponent(library)
        }
        var configuration = FunctionConfiguration(name: name, library: library)
        if let handler = string("handler") {
            do { configuration.handler = try HandlerReference.parse(handler) } catch {
                problems.append("\(at(mapping["handler"]!)): \(path).handler: \(error.message)")
            }
        }
        if let isolation = string("isolation") {
            if let value = Isolation(rawValue: isolation) { configuration.isolation = value } else {
                problems.append("\(at(mapping["isolation"]!)): \(path).isolation: must be 'process' or 'thread', got '\(isolation)'")
            }
        }
        if let timeout = number("timeout") { configuration.timeoutSeconds = timeout }
        if let timeout = number("initTimeout") { configuration.initTimeoutSeconds = timeout }
        if let memory = integer("memory") { configuration.memoryMB = memory }
        if let concurrency = integer("concurrency") { configuration.concurrency = concurrency }
        configuration.prewarmInstances = min(1, configuration.concurrency)
        if let prewarm = integer("prewarm") { configuration.prewarmInstances = prewarm }
        if configuration.isolation == .thread && mapping["prewarm"] == nil { configuration.prewarmInstances = 0 }
        if let bytes = integer("maxResponseBytes") { configuration.maxResponseBytes = bytes }
        if let initConfig = string("initConfig") { configuration.initConfig = Array(initConfig.utf8) }
        if let environment = mapping["environment"] {
            if let pairs = environment.mapping {
                for (key, value) in pairs {
                    guard let name = key.string, let text = value.string, value.scalar != nil else {
                        problems.append("\(at(value)): \(path).environment: values must be strings")
                        continue
                    }
                    configuration.environment[name] = text
                }
            } else {
                problems.append("\(at(environment)): \(path).environment: must be a mapping of names to strings")
            }
        }
        for (field, problem) in configuration.validationProblems() where problems.count == before || !problems.contains(where: { $0.contains("\(path).\(field):") }) {
            let node = mapping[field == "prewarm" ? "prewarm" : field == "memory" ? "memory" : field] ?? node
            problems.append("\(at(node)): \(path).\(field): \(problem)")
        }
        return problems.count == before ? configuration : nil
    }

    private static func at(_ node: Node) -> String {
        node.mark.map { "line \($0.line)" } ?? "line ?"
    }
}

/// Everything wrong with a configuration file, one line per problem.
public struct ConfigurationFileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var problems: [String]

    public var description: String {
        "\(path): invalid configuration:\n" + problems.map { "  \(path): \($0)" }.joined(separator: "\n")
    }
}
