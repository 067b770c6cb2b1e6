import CChuteABI

/// The one `chute_host_api` table every hook receives. Static and immutable: the functions find
/// their state through the `chute_call` handle.
enum HostAPITable {
    nonisolated(unsafe) static let pointer: UnsafePointer<chute_host_api> = {
        let table = UnsafeMutablePointer<chute_host_api>.allocate(capacity: 1)
        table.initialize(to: chute_host_api(
            struct_size: UInt32(MemoryLayout<chute_host_api>.size),
            write_response: { call, data, length in
                guard let call else { return CHUTE_E_INVALID_ARGUMENT }
                return CallRecorder.from(call).writeResponse(data, length)
            },
            set_error: { call, type, message, stackTrace in
                guard let call else { return CHUTE_E_INVALID_ARGUMENT }
                return CallRecorder.from(call).setError(type: type, message: message, stackTrace: stackTrace)
            },
            log: { call, level, line, length in
                guard let call else { return }
                CallRecorder.from(call).log(level: level, line: line, length: length)
            },
            remaining_time_ms: { call in
                guard let call else { return 0 }
                return CallRecorder.from(call).remainingMilliseconds()
            },
            is_cancelled: { call in
                guard let call else { return 1 }
                return CallRecorder.from(call).isCancelled() ? 1 : 0
            },
            context: { call in
                guard let call else { return nil }
                return UnsafePointer(CallRecorder.from(call).context)
            }))
        return UnsafePointer(table)
    }()
}
