/// An error in AWS's terms: the exception type clients map to a class (`x-amzn-ErrorType`), the
/// message, and the HTTP status. Thrown for requests that are wrong, never for function outcomes.
public struct ServiceError: Error, Sendable, Hashable, CustomStringConvertible {
    public var type: String
    public var message: String
    public var statusCode: Int

    public init(type: String, message: String, statusCode: Int = 400) {
        self.type = type
        self.message = message
        self.statusCode = statusCode
    }

    public var description: String { "\(type): \(message)" }

    /// AWS's constraint report: "1 validation error detected: Value '5' at 'maximumRetryAttempts'
    /// failed to satisfy constraint: Member must have value less than or equal to 2"; several
    /// violations are joined with "; " under "N validation errors detected".
    public static func validation(_ violations: [String]) -> ServiceError {
        let count = violations.count
        let head = count == 1 ? "1 validation error detected: " : "\(count) validation errors detected: "
        return ServiceError(type: "ValidationException", message: head + violations.joined(separator: "; "))
    }

    public static func invalidParameter(_ message: String) -> ServiceError {
        ServiceError(type: "InvalidParameterValueException", message: message)
    }

    public static func resourceNotFound(_ message: String) -> ServiceError {
        ServiceError(type: "ResourceNotFoundException", message: message, statusCode: 404)
    }
}
