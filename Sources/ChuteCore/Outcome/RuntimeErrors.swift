/// The Unhandled errors the host reports, worded as AWS Lambda words them.
///
/// See `shared/reference/SEMANTICS.md`, "Canonical error payloads".
public enum RuntimeErrors {
    /// `Sandbox.Timedout`: "RequestId: <id> Error: Task timed out after 3.00 seconds".
    public static func timedOut(requestID: String, timeoutSeconds: Double) -> FunctionError {
        FunctionError(
            errorType: "Sandbox.Timedout",
            errorMessage: "RequestId: \(requestID) Error: Task timed out after \(formatSeconds(timeoutSeconds)) seconds")
    }

    /// `Runtime.ExitError` for a worker that exited or died from a signal.
    public static func exited(requestID: String, reason: ExitReason) -> FunctionError {
        FunctionError(
            errorType: "Runtime.ExitError", errorMessage: "RequestId: \(requestID) Error: \(reason.lambdaText)")
    }

    /// `Runtime.InitError`, carrying the handler's own message.
    public static func initFailed(requestID: String, handlerError: FunctionError) -> FunctionError {
        FunctionError(
            errorType: "Runtime.InitError",
            errorMessage: "RequestId: \(requestID) Error: \(handlerError.errorType): \(handlerError.errorMessage)",
            stackTrace: handlerError.stackTrace)
    }

    /// `Runtime.InitError` for an init that crashed.
    public static func initExited(requestID: String, reason: ExitReason) -> FunctionError {
        FunctionError(
            errorType: "Runtime.InitError",
            errorMessage: "RequestId: \(requestID) Error: init failed: \(reason.lambdaText)")
    }

    /// `Runtime.InitError` for an init that passed its time limit.
    public static func initTimedOut(requestID: String, timeoutSeconds: Double) -> FunctionError {
        FunctionError(
            errorType: "Runtime.InitError",
            errorMessage: "RequestId: \(requestID) Error: Init timed out after \(formatSeconds(timeoutSeconds)) seconds")
    }

    /// `Runtime.InvalidStatus`: the entry point returned neither `CHUTE_OK` nor `CHUTE_HANDLED_ERROR`.
    public static func invalidStatus(requestID: String, status: Int32) -> FunctionError {
        FunctionError(
            errorType: "Runtime.InvalidStatus",
            errorMessage: "RequestId: \(requestID) Error: handler returned status \(status); expected CHUTE_OK (0) or CHUTE_HANDLED_ERROR (1)")
    }

    /// `Function.ResponseSizeTooLarge`: the handler wrote more than the response limit.
    public static func responseTooLarge(requestID: String, limitBytes: Int) -> FunctionError {
        FunctionError(
            errorType: "Function.ResponseSizeTooLarge",
            errorMessage: "RequestId: \(requestID) Error: Response payload size exceeded maximum allowed payload size (\(limitBytes) bytes).")
    }

    /// `Runtime.InvalidResponse`: a declared-signature result that has no JSON form (NaN, bad UTF-8).
    public static func invalidResponse(requestID: String, detail: String) -> FunctionError {
        FunctionError(
            errorType: "Runtime.InvalidResponse", errorMessage: "RequestId: \(requestID) Error: \(detail)")
    }

    /// `Runtime.InvalidEvent`: the event does not fit a declared signature, so the function never ran.
    public static func invalidEvent(requestID: String, detail: String) -> FunctionError {
        FunctionError(
            errorType: "Runtime.InvalidEvent", errorMessage: "RequestId: \(requestID) Error: \(detail)")
    }

    /// The handler returned `CHUTE_HANDLED_ERROR` without calling `set_error`.
    public static let missingErrorDetails = FunctionError(
        errorType: "Runtime.MissingErrorDetails",
        errorMessage: "the handler returned CHUTE_HANDLED_ERROR without calling set_error")

    /// Seconds with two decimals, as Lambda prints timeouts ("1.00").
    public static func formatSeconds(_ seconds: Double) -> String {
        let hundredths = Int64((seconds * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
