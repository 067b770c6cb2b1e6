import ChuteCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// CreateFunction, UpdateFunctionConfiguration, UpdateFunctionCode and DeleteFunction: functions
/// from zips holding their shared library, managed by `FunctionManager`.
extension LambdaAPI {
    /// A zip of Lambda's 50 MB direct-upload limit, base64 in JSON, fits in 72 MB.
    static let functionRequestBytes = 72 * 1_048_576

    func registerFunctionManagement(on router: Router<BasicRequestContext>) {
        router.post("/2015-03-31/functions") { request, _ in
            await respond { try await createFunction(request) }
        }
        router.put("/2015-03-31/functions/:name/configuration") { request, context in
            await respond { try await updateFunctionConfiguration(request, context) }
        }
        router.put("/2015-03-31/functions/:name/code") { request, context in
            await respond { try await updateFunctionCode(request, context) }
        }
        router.delete("/2015-03-31/functions/:name") { _, context in
            await respond {
                try await manager.delete(try entry(context).entry.configuration.name)
                return AWSResponse.bytes([], status: .noContent)
            }
        }
    }

    private func createFunction(_ request: Request) async throws -> Response {
        let input = try await decode(CreateFunctionInput.self, request)
        guard let name = input.FunctionName else { throw Self.missing("FunctionName") }
        guard input.PackageType ?? "Zip" == "Zip" else {
            throw ServiceError.invalidParameter("PackageType \(input.PackageType ?? "") is not supported: Chute runs shared libraries from Zip packages")
        }
        guard let handler = input.Handler, !handler.isEmpty else {
            throw ServiceError.invalidParameter("Handler is required: FILE:SYMBOL naming the shared library in the zip and its entry point, e.g. libthumbs.so:resize")
        }
        let zip = try Self.zipFile(input.Code)
        let definition = FunctionDefinition(
            handler: handler, runtime: input.Runtime ?? "provided.al2023", role: input.Role ?? "", description: input.Description ?? "",
            timeoutSeconds: input.Timeout ?? 3, memoryMB: input.MemorySize ?? 128, environment: input.Environment?.Variables ?? [:],
            deadLetterTarget: input.DeadLetterConfig?.TargetArn.flatMap { $0.isEmpty ? nil : $0 }, invokeConfig: EventInvokeConfig(),
            reservedConcurrency: nil, codeSha256: "", codeSize: 0)
        let entry = try await manager.create(name: name, definition: definition, zip: zip)
        return AWSResponse.json(configurationJSON(entry), status: .created)
    }

    private func updateFunctionConfiguration(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let name = try entry(context).entry.configuration.name
        let input = try await decode(UpdateFunctionConfigurationInput.self, request)
        let updated = try await manager.updateConfiguration(name) { definition in
            if let value = input.Handler { definition.handler = value }
            if let value = input.Runtime { definition.runtime = value }
            if let value = input.Role { definition.role = value }
            if let value = input.Description { definition.description = value }
            if let value = input.Timeout { definition.timeoutSeconds = value }
            if let value = input.MemorySize { definition.memoryMB = value }
            if let value = input.Environment { definition.environment = value.Variables ?? [:] }
            // An empty TargetArn removes the dead-letter queue, as in Lambda.
            if let value = input.DeadLetterConfig { definition.deadLetterTarget = value.TargetArn.flatMap { $0.isEmpty ? nil : $0 } }
        }
        return AWSResponse.json(configurationJSON(updated))
    }

    private func updateFunctionCode(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let name = try entry(context).entry.configuration.name
        let input = try await decode(FunctionCodeInput.self, request)
        let updated = try await manager.updateCode(name, zip: try Self.zipFile(input))
        return AWSResponse.json(configurationJSON(updated))
    }

    private static func zipFile(_ code: FunctionCodeInput?) throws -> Data {
        guard let code else { throw missing("Code") }
        if code.S3Bucket != nil || code.S3Key != nil || code.ImageUri != nil {
            throw ServiceError.invalidParameter("Code from S3 or a container image is not supported: upload the zip itself as ZipFile")
        }
        guard let base64 = code.ZipFile else { throw ServiceError.invalidParameter("Code.ZipFile is required: the zip holding the shared library") }
        guard let zip = Data(base64Encoded: base64) else {
            throw ServiceError.invalidParameter("Code.ZipFile is not valid base64")
        }
        return zip
    }

    private static func missing(_ field: String) -> ServiceError {
        ServiceError.invalidParameter("\(field) is required")
    }

    func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        let buffer = try await RequestBody.collect(request, upTo: Self.functionRequestBytes)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ServiceError.invalidParameter("\(field): \(context.debugDescription)")
        } catch {
            throw ServiceError.invalidParameter("The request body is not valid JSON for this operation: \(error)")
        }
    }
}

// MARK: Request shapes (field names are AWS's)

struct FunctionCodeInput: Decodable {
    var ZipFile: String?
    var S3Bucket: String?
    var S3Key: String?
    var ImageUri: String?
}

struct EnvironmentInput: Decodable {
    var Variables: [String: String]?
}

struct DeadLetterInput: Decodable {
    var TargetArn: String?
}

struct CreateFunctionInput: Decodable {
    var FunctionName: String?
    var Runtime: String?
    var Role: String?
    var Handler: String?
    var Code: FunctionCodeInput?
    var Description: String?
    var Timeout: Int?
    var MemorySize: Int?
    var Environment: EnvironmentInput?
    var DeadLetterConfig: DeadLetterInput?
    var PackageType: String?
}

struct UpdateFunctionConfigurationInput: Decodable {
    var Runtime: String?
    var Role: String?
    var Handler: String?
    var Description: String?
    var Timeout: Int?
    var MemorySize: Int?
    var Environment: EnvironmentInput?
    var DeadLetterConfig: DeadLetterInput?
}
