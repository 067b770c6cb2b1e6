import ChuteAsync
import ChuteCore
import ChuteHost
import ChuteWorkers
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Lambda's REST-JSON API over the host's functions: Invoke (sync, async, dry run), functions,
/// and event invoke configs, in the shapes the aws CLI and boto3 expect.
struct LambdaAPI: RESTJSONResponder, Sendable {
    let registry: FunctionRegistry
    let manager: FunctionManager
    let dispatcher: AsyncDispatcher
    let limits: PayloadLimits
    let clock: @Sendable () -> Int64

    struct PayloadLimits: Sendable {
        var synchronousBytes = 6 * 1_048_576
        var asynchronousBytes = 1_048_576
    }

    func register(on router: Router<BasicRequestContext>) {
        router.post("/2015-03-31/functions/:name/invocations") { request, context in
            await respond { try await invoke(request, context) }
        }
        router.get("/2015-03-31/functions") { _, _ in listFunctions() }
        registerFunctionManagement(on: router)
        router.get("/2015-03-31/functions/:name") { request, context in
            await respond { try getFunction(request, context) }
        }
        router.get("/2015-03-31/functions/:name/configuration") { request, context in
            await respond { try AWSResponse.json(configurationJSON(entry(request, context).entry)) }
        }
        router.put("/2017-10-31/functions/:name/concurrency") { request, context in
            await respond { try await putConcurrency(request, context) }
        }
        router.get("/2019-09-30/functions/:name/concurrency") { _, context in
            await respond {
                let entry = try entry(context).entry
                return AWSResponse.json(entry.reservedConcurrency.map { ["ReservedConcurrentExecutions": $0] } ?? [:])
            }
        }
        router.delete("/2017-10-31/functions/:name/concurrency") { _, context in
            await respond {
                _ = try await manager.setReservedConcurrency(try entry(context).entry.configuration.name, nil)
                return AWSResponse.bytes([], status: .noContent)
            }
        }
        router.put("/2019-09-25/functions/:name/event-invoke-config") { request, context in
            await respond { try await putEventInvokeConfig(request, context, merge: false) }
        }
        router.post("/2019-09-25/functions/:name/event-invoke-config") { request, context in
            await respond { try await putEventInvokeConfig(request, context, merge: true) }
        }
        router.get("/2019-09-25/functions/:name/event-invoke-config") { _, context in
            await respond { try AWSResponse.json(invokeConfigJSON(entry(context).entry)) }
        }
        router.get("/2019-09-25/functions/:name/event-invoke-config/list") { _, context in
            await respond { try AWSResponse.json(["FunctionEventInvokeConfigs": [invokeConfigJSON(entry(context).entry)]]) }
        }
        router.delete("/2019-09-25/functions/:name/event-invoke-config") { _, context in
            await respond {
                _ = try await manager.changeInvokeConfig(try entry(context).entry.configuration.name) { _ in EventInvokeConfig() }
                return AWSResponse.bytes([], status: .noContent)
            }
        }
    }

    /// The function a request's path names, with the qualifier of its ARN or of `?Qualifier=`:
    /// Chute's functions have only `$LATEST`, so any other qualifier is not found.
    func entry(_ request: Request, _ context: BasicRequestContext) throws -> (entry: FunctionRegistry.Entry, qualifier: String) {
        let found = try entry(context)
        if let qualifier = request.uri.queryParameters.get("Qualifier"), qualifier != "$LATEST" {
            throw ServiceError.resourceNotFound("Function not found: \(found.entry.configuration.arn):\(qualifier.prefix(128))")
        }
        return found
    }

    func entry(_ context: BasicRequestContext) throws -> (entry: FunctionRegistry.Entry, qualifier: String) {
        let raw = context.parameters.get("name") ?? ""
        let decoded = raw.contains("%") ? raw.removingPercentEncoding ?? raw : raw
        guard let (name, qualifier) = FunctionRegistry.parseFunctionName(decoded) else {
            throw ServiceError.validation([
                "Value '\(decoded)' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: "
                    + "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
            ])
        }
        guard let entry = registry.entry(named: name) else {
            throw ServiceError.resourceNotFound("Function not found: \(FunctionConfiguration(name: name, library: "").arn)")
        }
        if let qualifier, qualifier != "$LATEST" {
            throw ServiceError.resourceNotFound("Function not found: \(entry.configuration.arn):\(qualifier)")
        }
        return (entry, "$LATEST")
    }

    // MARK: Invoke

    private func invoke(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let (entry, qualifier) = try entry(request, context)
        let type = request.headers[AWSResponse.invocationTypeHeader] ?? "RequestResponse"
        var request = request
        switch type {
        case "Event":
            let payload = try await body(&request, limit: limits.asynchronousBytes, kind: "asynchronous")
            // Time-ordered ids (UUID version 7): the store's index of pending events grows at its end.
            let now = clock()
            let event = AsyncEvent(requestID: RequestID.makeTimeOrdered(milliseconds: now), functionName: entry.configuration.name,
                                   qualifier: qualifier, payload: payload.isEmpty ? Array("{}".utf8) : payload, receivedAtMilliseconds: now)
            try await dispatcher.accept([event])
            return AWSResponse.bytes([], status: .accepted, headers: [AWSResponse.requestIDHeader: event.requestID])
        case "DryRun":
            return AWSResponse.bytes([], status: .noContent)
        case "RequestResponse":
            let metrics = dispatcher.metrics
            let name = entry.configuration.name
            if entry.reservedConcurrency == 0 {
                metrics.throttled(name)
                throw ServiceError(type: "TooManyRequestsException",
                                   message: "Rate Exceeded. (Reason: ReservedFunctionConcurrentInvocationLimitExceeded)", statusCode: 429)
            }
            let payload = try await body(&request, limit: limits.synchronousBytes, kind: "synchronous")
            let invocation = Invocation(payload: payload.isEmpty ? Array("{}".utf8) : payload)
            metrics.started(name)
            switch await entry.pool.invoke(invocation) {
            case .throttled(let throttle):
                metrics.abandoned(name)
                metrics.throttled(name)
                throw ServiceError(type: "TooManyRequestsException", message: throttle.description, statusCode: 429)
            case .completed(let report):
                metrics.finished(name, durationNanoseconds: report.durationNanoseconds, functionError: !report.outcome.isSuccess)
                var headers: HTTPFields = [AWSResponse.executedVersionHeader: qualifier]
                if request.headers[AWSResponse.logTypeHeader] == "Tail" {
                    headers[AWSResponse.logResultHeader] = logResult(report)
                }
                switch report.outcome {
                case .success(let response):
                    return AWSResponse.bytes(response, headers: headers)
                case .handled(let error), .unhandled(let error):
                    headers[AWSResponse.functionErrorHeader] = report.outcome.functionErrorKind
                    return AWSResponse.bytes(Array(error.payload().utf8), headers: headers)
                }
            }
        default:
            throw ServiceError.invalidParameter("Invalid invocation type \(type): use RequestResponse, Event or DryRun")
        }
    }

    private func body(_ request: inout Request, limit: Int, kind: String) async throws -> [UInt8] {
        let buffer = try await RequestBody.collect(request, upTo: limit, tooLarge: ServiceError(
            type: "RequestTooLargeException", message: "Request must be smaller than \(limit) bytes for the \(kind) Invoke operation",
            statusCode: 413))
        return Array(buffer.readableBytesView)
    }

    /// The last 4 KB of the invocation's log, base64, as `X-Amz-Log-Result`.
    private func logResult(_ report: InvocationReport) -> String {
        var text = "START RequestId: \(report.requestID) Version: $LATEST\n"
        text += report.logTail.map { $0 + "\n" }.joined()
        text += "END RequestId: \(report.requestID)\n"
        text += String(format: "REPORT RequestId: %@\tDuration: %.2f ms\n", report.requestID, Double(report.durationNanoseconds) / 1e6)
        let bytes = Array(text.utf8.suffix(4096))
        return Data(bytes).base64EncodedString()
    }

    // MARK: Functions

    private func listFunctions() -> Response {
        AWSResponse.json(FunctionList(Functions: registry.all.map(configurationJSON)))
    }

    private func getFunction(_ request: Request, _ context: BasicRequestContext) throws -> Response {
        let entry = try entry(request, context).entry
        return AWSResponse.json(FunctionDetails(
            Configuration: configurationJSON(entry), Code: .init(RepositoryType: "S3", Location: ""),
            Concurrency: entry.reservedConcurrency.map { .init(ReservedConcurrentExecutions: $0) }))
    }

    func configurationJSON(_ entry: FunctionRegistry.Entry) -> FunctionConfigurationJSON {
        let configuration = entry.configuration
        let definition = entry.definition ?? FunctionManager.definition(of: entry)
        return FunctionConfigurationJSON(
            FunctionName: configuration.name, FunctionArn: configuration.arn, Runtime: definition.runtime, Role: definition.role,
            Handler: definition.handler, CodeSize: definition.codeSize, CodeSha256: definition.codeSha256,
            Description: definition.description, Timeout: definition.timeoutSeconds, MemorySize: definition.memoryMB,
            Version: configuration.version,
            LastModified: Timestamps.iso8601(milliseconds: entry.lastModifiedMilliseconds).replacingOccurrences(of: "Z", with: "+0000"),
            State: "Active", LastUpdateStatus: "Successful", PackageType: "Zip", Architectures: [Self.architecture],
            Environment: .init(Variables: definition.environment),
            DeadLetterConfig: entry.asyncSettings.deadLetterTarget.map { .init(TargetArn: $0) })
    }

    #if arch(arm64)
    static let architecture = "arm64"
    #else
    static let architecture = "x86_64"
    #endif

    // MARK: Concurrency

    private func putConcurrency(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let entry = try entry(context).entry
        let bytes = try await RequestBody.collect(request, upTo: 4096)
        let input = try RequestFields(body: bytes.readableBytesView)
        guard let value = try input.integer("ReservedConcurrentExecutions") else {
            throw ServiceError.invalidParameter("ReservedConcurrentExecutions is required: a whole number")
        }
        guard value >= 0 else {
            throw ServiceError.validation([
                "Value '\(value)' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0",
            ])
        }
        _ = try await manager.setReservedConcurrency(entry.configuration.name, value)
        return AWSResponse.json(["ReservedConcurrentExecutions": value])
    }

    // MARK: Event invoke config

    private func putEventInvokeConfig(_ request: Request, _ context: BasicRequestContext, merge: Bool) async throws -> Response {
        let name = try entry(context).entry.configuration.name
        let bytes = try await RequestBody.collect(request, upTo: 64 * 1024)
        let input: EventInvokeConfigJSON
        do {
            input = try JSONDecoder().decode(EventInvokeConfigJSON.self, from: Data(bytes.readableBytesView))
        } catch {
            throw ServiceError.invalidParameter("The request body is not a valid event invoke config: \(error)")
        }
        let updated = try await manager.changeInvokeConfig(name) { current in
            // Update merges into the current config; Put replaces it.
            var config = merge ? current : EventInvokeConfig()
            if let value = input.MaximumRetryAttempts { config.maximumRetryAttempts = value }
            if let value = input.MaximumEventAgeInSeconds { config.maximumEventAgeSeconds = value }
            if let destinations = input.DestinationConfig {
                if let onSuccess = destinations.OnSuccess { config.onSuccess = onSuccess.Destination }
                if let onFailure = destinations.OnFailure { config.onFailure = onFailure.Destination }
            }
            try config.validate()
            for arn in [config.onSuccess, config.onFailure].compactMap({ $0 }) {
                if case .failure(let error) = Destination.parse(arn) { throw error }
            }
            return config
        }
        return AWSResponse.json(invokeConfigJSON(updated))
    }

    private func invokeConfigJSON(_ entry: FunctionRegistry.Entry) -> EventInvokeConfigJSON {
        let config = entry.asyncSettings.invokeConfig
        var destinations: EventInvokeConfigJSON.Destinations?
        if config.onSuccess != nil || config.onFailure != nil {
            destinations = .init(OnSuccess: config.onSuccess.map { .init(Destination: $0) }, OnFailure: config.onFailure.map { .init(Destination: $0) })
        }
        return EventInvokeConfigJSON(FunctionArn: entry.configuration.arn + ":$LATEST", LastModified: Double(entry.lastModifiedMilliseconds) / 1000,
                                     MaximumRetryAttempts: config.maximumRetryAttempts, MaximumEventAgeInSeconds: config.maximumEventAgeSeconds,
                                     DestinationConfig: destinations)
    }
}
