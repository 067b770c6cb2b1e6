import CChuteABI
import CChuteSys
import ChuteCore

/// One instance of a handler: the state `chute_init` made, used for invocations until destroyed.
///
/// Not thread-safe unless the module is: the pools guarantee one call at a time per instance
/// (several at once only with `CHUTE_FLAG_THREAD_SAFE`), each with its own `CallRecorder`.
public final class HandlerInstance: @unchecked Sendable {
    public let module: HandlerModule
    private var state: UnsafeMutableRawPointer?
    public private(set) var isDestroyed = false

    public init(module: HandlerModule) {
        self.module = module
    }

    /// Runs `chute_init` (if the module has one). Returns the handler's error on failure, in which
    /// case the instance must be discarded without `destroy`.
    public func initialize(config: [UInt8], recorder: CallRecorder, deadlineNanoseconds: Int64, deadlineWallMilliseconds: Int64) -> FunctionError? {
        guard let initFunction = module.initFunction else { return nil }
        recorder.begin(.initializing, requestID: "", attempt: 0, deadlineNanoseconds: deadlineNanoseconds,
                       deadlineWallMilliseconds: deadlineWallMilliseconds)
        defer { recorder.end() }
        var newState: UnsafeMutableRawPointer?
        let status = config.withUnsafeBufferPointer { buffer in
            initFunction(HostAPITable.pointer, recorder.callHandle, buffer.baseAddress, buffer.count, &newState)
        }
        guard status == CHUTE_OK else {
            return recorder.error
                ?? FunctionError(errorType: "Runtime.InitError", errorMessage: "chute_init returned \(status) without calling set_error")
        }
        state = newState
        return nil
    }

    /// Runs one invocation and classifies what the handler did. Crashes and timeouts are the
    /// caller's to detect; everything the handler returns is classified here.
    public func invoke(_ invocation: Invocation, recorder: CallRecorder, deadlineNanoseconds: Int64, deadlineWallMilliseconds: Int64) -> InvocationOutcome {
        switch module.entry {
        case .native(let entry):
            recorder.begin(.invoking, requestID: invocation.requestID, attempt: invocation.attempt,
                           deadlineNanoseconds: deadlineNanoseconds, deadlineWallMilliseconds: deadlineWallMilliseconds)
            defer { recorder.end() }
            let status = invocation.payload.withUnsafeBufferPointer { event in
                entry.call(host: HostAPITable.pointer, call: recorder.callHandle, state: state,
                           event: event.baseAddress, length: event.count)
            }
            return classify(status: status, recorder: recorder, requestID: invocation.requestID)
        case .declared(let call):
            switch DeclaredArguments.decode(event: invocation.payload, for: call.signature) {
            case .failure(let problem):
                return .unhandled(RuntimeErrors.invalidEvent(requestID: invocation.requestID, detail: problem.message))
            case .success(let arguments):
                switch DeclaredArguments.encode(result: call.call(arguments)) {
                case .success(let json): return .success(response: json)
                case .failure(let problem):
                    return .unhandled(RuntimeErrors.invalidResponse(requestID: invocation.requestID, detail: problem.message))
                }
            }
        }
    }

    /// Runs `chute_destroy` once (if the module has one).
    public func destroy() {
        guard !isDestroyed else { return }
        isDestroyed = true
        module.destroyFunction?(state)
        state = nil
    }

    private func classify(status: Int32, recorder: CallRecorder, requestID: String) -> InvocationOutcome {
        if recorder.responseTooLarge {
            return .unhandled(RuntimeErrors.responseTooLarge(requestID: requestID, limitBytes: recorder.responseLimit))
        }
        switch status {
        case CHUTE_OK:
            return .success(response: recorder.response)
        case CHUTE_HANDLED_ERROR:
            return .handled(recorder.error ?? RuntimeErrors.missingErrorDetails)
        default:
            return .unhandled(RuntimeErrors.invalidStatus(requestID: requestID, status: status))
        }
    }
}
