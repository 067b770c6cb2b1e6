import ChuteCore
import Yams

/// Event source mappings as the configuration file declares them, with Lambda's parameter names:
///
/// ```yaml
/// mappings:
///   - function: clicks-counter
///     stream: clicks                     # or queue: jobs, or eventSourceArn: arn:aws:...
///     startingPosition: TRIM_HORIZON     # streams: TRIM_HORIZON | LATEST | AT_TIMESTAMP
///     batchSize: 100
///     maximumBatchingWindowInSeconds: 0
///     bisectBatchOnFunctionError: true
///     maximumRetryAttempts: 2
///     maximumRecordAgeInSeconds: 3600
///     parallelizationFactor: 2
///     functionResponseTypes: [ReportBatchItemFailures]
///     tumblingWindowInSeconds: 60        # streams: 0-900 (state carried between a window's batches)
///     filters: [{data: {kind: [click]}}]
///     onFailure: failures                # a queue name, or a queue or topic ARN
///     enabled: true
/// ```
extension ConfigurationFile {
    public struct MappingDeclaration: Sendable, Hashable {
        public var functionName: String
        public var eventSourceARN: String
        public var settings: EventSourceMappingSettings
    }

    static let mappingFields: Set<String> = [
        "function", "stream", "queue", "eventSourceArn", "enabled", "batchSize", "maximumBatchingWindowInSeconds", "startingPosition",
        "startingPositionTimestamp", "bisectBatchOnFunctionError", "maximumRetryAttempts", "maximumRecordAgeInSeconds",
        "parallelizationFactor", "functionResponseTypes", "tumblingWindowInSeconds", "filters", "onFailure",
    ]

    static func parseMappings(_ node: Node, functions: [FunctionConfiguration], problems: inout [String]) -> [MappingDeclaration] {
        guard let list = node.sequence else {
            problems.append("\(at(node)): mappings must be a list")
            return []
        }
        var mappings: [MappingDeclaration] = []
        for (index, item) in list.enumerated() {
            let path = "mappings[\(index)]"
            guard let fields = fields(item, path, allowed: mappingFields, problems: &problems) else { continue }
            let before = problems.count
            guard let function = scalar(fields["function"], "\(path).function", in: item, problems: &problems) else { continue }
            if !functions.contains(where: { $0.name == function }) {
                problems.append("\(at(item)): \(path).function: '\(function)' is not a function this file declares")
            }
            let sources = [("stream", "stream/"), ("queue", ""), ("eventSourceArn", nil)].compactMap { key, prefix -> String? in
                guard let text = scalar(fields[key], "\(path).\(key)", in: item, required: false, problems: &problems) else { return nil }
                guard let prefix else { return text }
                return prefix.isEmpty ? EventSource.queueARN(text, region: FunctionConfiguration.defaultRegion, account: FunctionConfiguration.defaultAccountID)
                    : EventSource.streamARN(text, region: FunctionConfiguration.defaultRegion, account: FunctionConfiguration.defaultAccountID)
            }
            guard sources.count == 1, let arn = sources.first, let source = EventSource(arn: arn) else {
                problems.append("\(at(item)): \(path): needs exactly one of stream (a stream name), queue (a queue name) or eventSourceArn")
                continue
            }
            var settings = EventSourceMappingSettings(source: source.kind)
            func integer(_ key: String, _ apply: (Int) -> Void) {
                guard let value = fields[key] else { return }
                if let number = value.int { apply(number) } else { problems.append("\(at(value)): \(path).\(key): must be a whole number") }
            }
            func flag(_ key: String, _ apply: (Bool) -> Void) {
                guard let value = fields[key] else { return }
                if let bool = value.bool { apply(bool) } else { problems.append("\(at(value)): \(path).\(key): must be true or false") }
            }
            flag("enabled") { settings.enabled = $0 }
            integer("batchSize") { settings.batchSize = $0 }
            integer("maximumBatchingWindowInSeconds") { settings.maximumBatchingWindowSeconds = $0 }
            flag("bisectBatchOnFunctionError") { settings.bisectBatchOnFunctionError = $0 }
            integer("maximumRetryAttempts") { settings.maximumRetryAttempts = $0 }
            integer("maximumRecordAgeInSeconds") { settings.maximumRecordAgeSeconds = $0 }
            integer("parallelizationFactor") { settings.parallelizationFactor = $0 }
            integer("tumblingWindowInSeconds") { settings.tumblingWindowSeconds = $0 }
            if let text = scalar(fields["startingPosition"], "\(path).startingPosition", in: item, required: false, problems: &problems) {
                if let position = EventSourceMappingSettings.StartingPosition(rawValue: text) {
                    settings.startingPosition = position
                } else {
                    problems.append("\(at(item)): \(path).startingPosition: '\(text)' is not TRIM_HORIZON, LATEST or AT_TIMESTAMP")
                }
            }
            if let value = fields["startingPositionTimestamp"] {
                if let seconds = value.float { settings.startingPositionTimestamp = seconds } else {
                    problems.append("\(at(value)): \(path).startingPositionTimestamp: must be seconds since 1970")
                }
            }
            if let value = fields["functionResponseTypes"] {
                let types = value.sequence?.compactMap(\.string)
                if let types, types.allSatisfy({ $0 == "ReportBatchItemFailures" }) {
                    settings.reportBatchItemFailures = !types.isEmpty
                } else {
                    problems.append("\(at(value)): \(path).functionResponseTypes: must be a list of ReportBatchItemFailures")
                }
            }
            if let value = fields["filters"] {
                if let entries = value.sequence {
                    settings.filterPatterns = entries.enumerated().compactMap { pattern($1, "\(path).filters[\($0)]", problems: &problems) }
                } else {
                    problems.append("\(at(value)): \(path).filters: must be a list of patterns")
                }
            }
            if let text = scalar(fields["onFailure"], "\(path).onFailure", in: item, required: false, problems: &problems) {
                settings.onFailure = destinationARN(text)
            }
            guard problems.count == before else { continue }
            do {
                try settings.validate()
            } catch {
                problems.append("\(at(item)): \(path): \(error.message)")
                continue
            }
            mappings.append(MappingDeclaration(functionName: function, eventSourceARN: arn, settings: settings))
        }
        return mappings
    }
}
