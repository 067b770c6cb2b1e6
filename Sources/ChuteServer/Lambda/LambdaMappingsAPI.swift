import ChuteAsync
import ChuteCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Lambda's event source mapping API (REST-JSON): Create (202, State `Creating`), Get, List,
/// Update (202, State `Updating`), Delete (202, State `Deleting`), in the shapes boto3 and the aws
/// CLI read.
struct LambdaMappingsAPI: RESTJSONResponder, Sendable {
    let mappings: MappingRegistry
    let supervisor: MappingSupervisor

    func register(on router: Router<BasicRequestContext>) {
        // Hummingbird matches the path with and without its trailing slash (boto3 sends one).
        router.post("/2015-03-31/event-source-mappings") { request, _ in await respond { try await create(request) } }
        router.get("/2015-03-31/event-source-mappings") { request, _ in await respond { try list(request) } }
        router.get("/2015-03-31/event-source-mappings/:uuid") { _, context in
            await respond { try configurationResponse(try mapping(context), state: nil, status: .ok) }
        }
        router.put("/2015-03-31/event-source-mappings/:uuid") { request, context in
            await respond { try await update(request, context) }
        }
        router.delete("/2015-03-31/event-source-mappings/:uuid") { _, context in
            await respond {
                let deleted = try await mappings.delete(try mapping(context).uuid)
                return try configurationResponse(deleted, state: "Deleting", status: .accepted)
            }
        }
    }

    private func mapping(_ context: BasicRequestContext) throws -> EventSourceMapping {
        guard let mapping = mappings.mapping(context.parameters.get("uuid") ?? "") else { throw MappingRegistry.notFound }
        return mapping
    }

    struct MappingInput: Decodable {
        struct Filters: Decodable {
            struct Filter: Decodable { var Pattern: String? }
            var Filters: [Filter]?
        }
        struct Destinations: Decodable {
            struct Target: Decodable { var Destination: String? }
            var OnFailure: Target?
            var OnSuccess: Target?
        }
        var FunctionName: String?
        var EventSourceArn: String?
        var Enabled: Bool?
        var BatchSize: Int?
        var MaximumBatchingWindowInSeconds: Int?
        var StartingPosition: String?
        var StartingPositionTimestamp: Double?
        var BisectBatchOnFunctionError: Bool?
        var MaximumRetryAttempts: Int?
        var MaximumRecordAgeInSeconds: Int?
        var ParallelizationFactor: Int?
        var FunctionResponseTypes: [String]?
        var TumblingWindowInSeconds: Int?
        var FilterCriteria: Filters?
        var DestinationConfig: Destinations?

        /// Applies what the request gives over `settings`.
        func apply(to settings: inout EventSourceMappingSettings) throws {
            if let value = Enabled { settings.enabled = value }
            if let value = BatchSize { settings.batchSize = value }
            if let value = MaximumBatchingWindowInSeconds { settings.maximumBatchingWindowSeconds = value }
            if let value = StartingPosition {
                guard let position = EventSourceMappingSettings.StartingPosition(rawValue: value) else {
                    throw ServiceError.validation([
                        "Value '\(value)' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
                    ])
                }
                settings.startingPosition = position
            }
            if let value = StartingPositionTimestamp { settings.startingPositionTimestamp = value }
            if let value = BisectBatchOnFunctionError { settings.bisectBatchOnFunctionError = value }
            if let value = MaximumRetryAttempts { settings.maximumRetryAttempts = value }
            if let value = MaximumRecordAgeInSeconds { settings.maximumRecordAgeSeconds = value }
            if let value = ParallelizationFactor { settings.parallelizationFactor = value }
            if let types = FunctionResponseTypes {
                if let unknown = types.first(where: { $0 != "ReportBatchItemFailures" }) {
                    throw ServiceError.validation([
                        "Value '[\(unknown)]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy enum value set: [ReportBatchItemFailures]",
                    ])
                }
                settings.reportBatchItemFailures = !types.isEmpty
            }
            if let value = TumblingWindowInSeconds { settings.tumblingWindowSeconds = value }
            if let criteria = FilterCriteria {
                settings.filterPatterns = try (criteria.Filters ?? []).map { filter in
                    guard let pattern = filter.Pattern else { throw ServiceError.invalidParameter("FilterCriteria.Filters[].Pattern is required") }
                    return pattern
                }
            }
            if let destinations = DestinationConfig {
                if destinations.OnSuccess?.Destination != nil {
                    throw ServiceError.invalidParameter("Unsupported DestinationConfig parameter for given event source mapping type: OnSuccess")
                }
                if let onFailure = destinations.OnFailure { settings.onFailure = onFailure.Destination.flatMap { $0.isEmpty ? nil : $0 } }
            }
        }
    }

    private func decode(_ request: Request) async throws -> MappingInput {
        let buffer = try await RequestBody.collect(request, upTo: 1_048_576)
        do {
            return try JSONDecoder().decode(MappingInput.self, from: Data(buffer.readableBytesView))
        } catch {
            throw ServiceError(type: "SerializationException", message: "The request body is not a valid event source mapping: \(error)")
        }
    }

    private func create(_ request: Request) async throws -> Response {
        let input = try await decode(request)
        guard let function = input.FunctionName else { throw ServiceError.invalidParameter("FunctionName is required") }
        guard let arn = input.EventSourceArn else { throw ServiceError.invalidParameter("EventSourceArn is required") }
        guard let source = EventSource(arn: arn) else {
            throw ServiceError.invalidParameter(
                "Unsupported event source \(arn): a Kinesis stream (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME) or an SQS queue (arn:aws:sqs:REGION:ACCOUNT:NAME)")
        }
        var settings = EventSourceMappingSettings(source: source.kind)
        try input.apply(to: &settings)
        let mapping = try await mappings.create(functionName: function, eventSourceARN: arn, settings: settings)
        return try configurationResponse(mapping, state: "Creating", status: .accepted)
    }

    private func update(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let existing = try mapping(context)
        let input = try await decode(request)
        if input.StartingPosition != nil || input.EventSourceArn != nil {
            throw ServiceError.invalidParameter("StartingPosition and EventSourceArn cannot be changed: delete and create the mapping")
        }
        var settings = existing.settings
        try input.apply(to: &settings)
        let updated = try await mappings.update(existing.uuid, functionName: input.FunctionName) { [settings] in $0 = settings }
        return try configurationResponse(updated, state: "Updating", status: .accepted)
    }

    private func list(_ request: Request) throws -> Response {
        let query = request.uri.queryParameters
        var selected = mappings.all
        if let function = query.get("FunctionName") {
            let name = FunctionRegistry.parseFunctionName(function)?.name ?? function
            selected = selected.filter { $0.functionName == name }
        }
        if let arn = query.get("EventSourceArn") { selected = selected.filter { $0.eventSourceARN == arn } }
        let start = query.get("Marker").flatMap { marker in selected.firstIndex { $0.uuid == marker } } ?? 0
        let limit = min(max(query.get("MaxItems").flatMap(Int.init) ?? 100, 1), 10_000)
        let page = Array(selected[start...].prefix(limit))
        var members = [("EventSourceMappings", "[" + page.map { configurationJSON($0, state: nil) }.joined(separator: ",") + "]")]
        if start + page.count < selected.count { members.append(("NextMarker", JSONText.quote(selected[start + page.count].uuid))) }
        return AWSResponse.bytes(Array(JSONText.object(members).utf8))
    }

    private func configurationResponse(_ mapping: EventSourceMapping, state: String?, status: HTTPResponse.Status) throws -> Response {
        AWSResponse.bytes(Array(configurationJSON(mapping, state: state).utf8), status: status)
    }

    /// `EventSourceMappingConfiguration`, with the fields Lambda returns for the source's kind.
    func configurationJSON(_ mapping: EventSourceMapping, state: String?) -> String {
        let settings = mapping.settings
        let mappingARN = "arn:aws:lambda:\(mappings.region):\(mappings.account):event-source-mapping:\(mapping.uuid)"
        let functionARN = "arn:aws:lambda:\(mappings.region):\(mappings.account):function:\(mapping.functionName)"
        let responseTypes = settings.reportBatchItemFailures ? #"["ReportBatchItemFailures"]"# : "[]"
        var members: [(String, String)] = [("BatchSize", String(settings.batchSize))]
        if settings.source == .stream {
            members.append(("BisectBatchOnFunctionError", String(settings.bisectBatchOnFunctionError)))
            members.append(("DestinationConfig", JSONText.object([("OnFailure", JSONText.object(
                settings.onFailure.map { [("Destination", JSONText.quote($0))] } ?? []))])))
        }
        members += [
            ("EventSourceArn", JSONText.quote(mapping.eventSourceARN)),
            ("EventSourceMappingArn", JSONText.quote(mappingARN)),
        ]
        if !settings.filterPatterns.isEmpty {
            members.append(("FilterCriteria", JSONText.object([("Filters", "[" + settings.filterPatterns.map {
                JSONText.object([("Pattern", JSONText.quote($0))])
            }.joined(separator: ",") + "]")])))
        }
        members += [
            ("FunctionArn", JSONText.quote(functionARN)),
            ("FunctionResponseTypes", responseTypes),
            ("LastModified", String(Double(mapping.lastModifiedMilliseconds) / 1000)),
        ]
        // A stored mapping this version refuses is shown disabled, with why; it does not run.
        let refusal = mappings.refusal(mapping.uuid)
        let stateText = state ?? (refusal == nil && settings.enabled ? "Enabled" : "Disabled")
        let transitionReason = refusal.map { "Invalid stored mapping: \($0)" }
        if settings.source == .stream {
            members += [
                ("LastProcessingResult", JSONText.quote(refusal.map { "PROBLEM: \($0)" } ?? supervisor.lastProcessingResult(mapping.uuid))),
                ("MaximumBatchingWindowInSeconds", String(settings.maximumBatchingWindowSeconds)),
                ("MaximumRecordAgeInSeconds", String(settings.maximumRecordAgeSeconds)),
                ("MaximumRetryAttempts", String(settings.maximumRetryAttempts)),
                ("ParallelizationFactor", String(settings.parallelizationFactor)),
                ("StartingPosition", JSONText.quote(settings.startingPosition?.rawValue ?? "LATEST")),
            ]
            if let timestamp = settings.startingPositionTimestamp { members.append(("StartingPositionTimestamp", String(timestamp))) }
            members += [
                ("State", JSONText.quote(stateText)),
                ("StateTransitionReason", JSONText.quote(transitionReason ?? "User action")),
                ("TumblingWindowInSeconds", String(settings.tumblingWindowSeconds)),
            ]
        } else {
            members += [
                ("MaximumBatchingWindowInSeconds", String(settings.maximumBatchingWindowSeconds)),
                ("State", JSONText.quote(stateText)),
                ("StateTransitionReason", JSONText.quote(transitionReason ?? "USER_INITIATED")),
            ]
        }
        members.append(("UUID", JSONText.quote(mapping.uuid)))
        return JSONText.object(members)
    }
}
