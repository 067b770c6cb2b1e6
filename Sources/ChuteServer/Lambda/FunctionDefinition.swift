import ChuteABI
import ChuteCore
import ChuteHost
import Foundation

/// A function created through the Lambda API, as stored with its code: everything needed to
/// rebuild it after a restart or on another host sharing the store.
struct FunctionDefinition: Codable, Sendable, Hashable {
    /// `FILE:SYMBOL` or `FILE:SYMBOL(TYPES)->TYPE`, FILE inside the code zip.
    var handler: String
    var runtime: String
    var role: String
    var description: String
    var timeoutSeconds: Int
    var memoryMB: Int
    /// The caller's variables (the host adds Lambda's own, such as AWS_LAMBDA_FUNCTION_NAME).
    var environment: [String: String]
    var deadLetterTarget: String?
    var invokeConfig: EventInvokeConfig
    var reservedConcurrency: Int?
    /// SHA-256 of the zip, base64, as Lambda reports `CodeSha256`.
    var codeSha256: String
    var codeSize: Int

    /// Lambda's reserved variable names, which a function may not set.
    static let reservedVariables: Set<String> = [
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    ]

    /// Every violated constraint of the settings, in Lambda's terms.
    func validate() throws(ServiceError) {
        var violations: [String] = []
        if timeoutSeconds < 1 { violations.append("Value '\(timeoutSeconds)' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1") }
        if timeoutSeconds > 900 { violations.append("Value '\(timeoutSeconds)' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900") }
        if memoryMB < 128 { violations.append("Value '\(memoryMB)' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128") }
        if memoryMB > 10_240 { violations.append("Value '\(memoryMB)' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to 10240") }
        if description.count > 256 { violations.append("Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256") }
        if !violations.isEmpty { throw ServiceError.validation(violations) }

        let reserved = environment.keys.filter(Self.reservedVariables.contains).sorted()
        if !reserved.isEmpty {
            throw ServiceError.invalidParameter(
                "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: \(reserved.joined(separator: ", "))")
        }
        for key in environment.keys.sorted() where !Self.isVariableName(key) {
            throw ServiceError.validation(["Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+] (key '\(key)')"])
        }
        let size = environment.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        if size > 4_096 {
            throw ServiceError.invalidParameter("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: \(size) bytes")
        }
        if let deadLetterTarget, case .failure(let error) = Destination.parseDeadLetter(deadLetterTarget) {
            throw ServiceError.invalidParameter("DeadLetterConfig.TargetArn: \(error.message)")
        }
    }

    private static func isVariableName(_ key: String) -> Bool {
        guard key.utf8.count >= 2, let first = key.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic else { return false }
        return key.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }
    }

    /// The runtime configuration of this definition with its code unpacked in `codeDirectory`.
    /// Checks that the handler's library is in the package and is a shared object for this machine.
    func configuration(name: String, codeDirectory: String) throws(ServiceError) -> FunctionConfiguration {
        let file: String
        let reference: HandlerReference
        do {
            (file, reference) = try HandlerReference.parseHandlerField(handler)
        } catch {
            throw ServiceError.invalidParameter(error.message)
        }
        do {
            _ = try CodeArchive.safeComponents(file)
        } catch {
            throw ServiceError.invalidParameter("Handler '\(handler)': \(error.description)")
        }
        let library = codeDirectory + "/" + file
        do {
            try ELFHeader.check(path: library)
        } catch {
            let reason = error.code == .fileNotFound ? "the code package has no file \(file)" : error.message
            throw ServiceError.invalidParameter("Handler '\(handler)': \(reason)")
        }
        var variables = environment
        variables["AWS_LAMBDA_FUNCTION_NAME"] = name
        variables["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = String(memoryMB)
        variables["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST"
        variables["AWS_REGION"] = FunctionConfiguration.defaultRegion
        variables["LAMBDA_TASK_ROOT"] = codeDirectory
        variables["_HANDLER"] = handler
        return FunctionConfiguration(name: name, library: library, handler: reference, isolation: .process,
                                     timeoutSeconds: Double(timeoutSeconds), memoryMB: memoryMB, prewarmInstances: 1,
                                     environment: variables)
    }
}
