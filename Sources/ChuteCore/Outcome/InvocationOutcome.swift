/// How one invocation ended. Every attempt ends in exactly one of these.
public enum InvocationOutcome: Sendable, Hashable {
    /// The handler returned `CHUTE_OK`; the payload is what it wrote through `write_response`.
    case success(response: [UInt8])
    /// The handler reported an error itself (`CHUTE_HANDLED_ERROR` and `set_error`).
    case handled(FunctionError)
    /// The host detected the failure: crash, signal, exit, timeout, invalid status or response,
    /// init failure.
    case unhandled(FunctionError)

    /// The error of a failed outcome, nil for a success.
    public var error: FunctionError? {
        switch self {
        case .success: nil
        case .handled(let error), .unhandled(let error): error
        }
    }

    /// `Handled` or `Unhandled`, as the `X-Amz-Function-Error` header says; nil for a success.
    public var functionErrorKind: String? {
        switch self {
        case .success: nil
        case .handled: "Handled"
        case .unhandled: "Unhandled"
        }
    }

    public var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
