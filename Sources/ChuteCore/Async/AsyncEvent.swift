/// One accepted asynchronous invocation and its history, as the store keeps it. Times are
/// milliseconds on the wall clock, so a restarted host reads them as they were written.
public struct AsyncEvent: Sendable, Hashable {
    /// The same on every attempt, so handlers can deduplicate.
    public let requestID: String
    public let functionName: String
    public let qualifier: String
    public let payload: [UInt8]
    public let receivedAtMilliseconds: Int64
    /// Attempts that ran the function (the record's `approximateInvokeCount`).
    public var invokeCount = 0
    /// Consecutive re-queues after throttles or host failures, which use up no retry.
    public var requeueCount = 0
    /// When the event may run next.
    public var dueAtMilliseconds: Int64
    /// The last attempt's function error, for the record if the event fails later for its age.
    public var lastFailure: AttemptFailure?
    /// How many functions this event passed through as a destination record (0 for an event a
    /// client sent). Lambda stops such chains after 16 hops.
    public var chainDepth = 0
    /// How many deliveries the rest of this event's chain may still make: a share of what the
    /// event that led to it was allowed (`FanOutBudget`), so that the whole tree of events one
    /// request causes, through functions, topics and buses, stays within one budget however
    /// wide each hop fans out. Nil for an event a client sent, whose chain starts with the
    /// full budget.
    public var chainAllowance: Int?

    public init(requestID: String, functionName: String, qualifier: String = "$LATEST", payload: [UInt8], receivedAtMilliseconds: Int64) {
        self.requestID = requestID
        self.functionName = functionName
        self.qualifier = qualifier
        self.payload = payload
        self.receivedAtMilliseconds = receivedAtMilliseconds
        self.dueAtMilliseconds = receivedAtMilliseconds
    }

    public func ageMilliseconds(at now: Int64) -> Int64 { now - receivedAtMilliseconds }

    /// Lambda's limit on invocation chains through destinations.
    public static let maximumChainDepth = 16

    /// Lambda's limit on an asynchronous invocation's payload (1 MB), for every event a host
    /// accepts or routes: a record larger than this is not delivered to a function.
    public static let maximumPayloadBytes = 1_048_576
}

/// A function error of one attempt: Handled or Unhandled, with the error the handler or host gave.
public struct AttemptFailure: Sendable, Hashable {
    public var kind: FunctionErrorKind
    public var error: FunctionError

    public init(kind: FunctionErrorKind, error: FunctionError) {
        self.kind = kind
        self.error = error
    }
}

public enum FunctionErrorKind: String, Sendable, Hashable {
    case handled = "Handled"
    case unhandled = "Unhandled"
}

/// What one attempt came to, from the pipeline's point of view.
public enum AttemptResult: Sendable, Hashable {
    case success(response: [UInt8])
    case functionError(AttemptFailure)
    /// No instance was free (or the workers were restarting): the function never ran.
    case throttled
    /// The host failed to run the attempt (e.g. the library cannot be loaded any more).
    case hostFailure(String)
    /// Reserved concurrency 0: the function may never run.
    case zeroReservedConcurrency

    /// Maps a pool's answer to a pipeline result.
    public init(_ result: InvokeResult) {
        switch result {
        case .throttled(let throttle):
            self = throttle.reason == .reservedConcurrencyZero ? .zeroReservedConcurrency : .throttled
        case .completed(let report):
            switch report.outcome {
            case .success(let response): self = .success(response: response)
            case .handled(let error): self = .functionError(AttemptFailure(kind: .handled, error: error))
            case .unhandled(let error): self = .functionError(AttemptFailure(kind: .unhandled, error: error))
            }
        }
    }
}
