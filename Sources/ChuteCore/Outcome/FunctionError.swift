/// An error as Lambda reports it: the `{errorType, errorMessage, stackTrace}` wire shape.
///
/// This is data, not a Swift `Error`: a handler's failure is an outcome the pipelines route, never
/// something the host throws.
public struct FunctionError: Sendable, Hashable, Codable {
    public var errorType: String
    public var errorMessage: String
    /// Lines of a stack trace, outermost first; empty when none was given.
    public var stackTrace: [String]

    public init(errorType: String, errorMessage: String, stackTrace: [String] = []) {
        self.errorType = errorType
        self.errorMessage = errorMessage
        self.stackTrace = stackTrace
    }

    /// Lambda's error payload, keys in its order: `{"errorMessage","errorType",["requestId",]"stackTrace"}`.
    public func payload(requestID: String? = nil) -> String {
        var members = [("errorMessage", JSONText.quote(errorMessage)), ("errorType", JSONText.quote(errorType))]
        if let requestID { members.append(("requestId", JSONText.quote(requestID))) }
        members.append(("stackTrace", "[" + stackTrace.map(JSONText.quote).joined(separator: ",") + "]"))
        return JSONText.object(members)
    }
}
