import CChuteSys

/// The bare cost of calling an instance's entry point, without the host API bookkeeping around an
/// invocation: the figure the benchmark (BENCHMARKS.md) sets against a whole invocation.
extension HandlerInstance {
    /// Calls the native entry point `iterations` times with an empty event through `call path`
    /// and returns the mean nanoseconds per call. Use it only with a handler that does nothing
    /// observable for an empty event (the no-op handler).
    public func measureEntryCalls(iterations: Int, recorder: CallRecorder) -> Double {
        guard case .native(let entry) = module.entry else { return .nan }
        let start = chute_monotonic_ns()
        var sink: Int32 = 0
        for _ in 0..<iterations {
            sink &+= entry.call(host: HostAPITable.pointer, call: recorder.callHandle, state: nil, event: nil, length: 0)
        }
        let elapsed = chute_monotonic_ns() - start
        precondition(sink == 0, "the measured handler must return CHUTE_OK")
        return Double(elapsed) / Double(iterations)
    }
}
