import CChuteABI
import CFFI

/// How the host calls a Chute ABI entry point.
public enum EntryCallPath: String, Sendable, Hashable, CaseIterable {
    /// A typed `@convention(c)` call through the resolved pointer (~2.5 ns). The default: the entry
    /// signature is fixed by the ABI, so nothing needs libffi's generality.
    case direct
    /// Through the libffi interface prepared at load (~55 ns). Kept for comparison and as the
    /// path that declared signatures use.
    case ffi
}

/// A resolved `int32_t NAME(host, call, state, event, event_len)` entry point.
public final class NativeEntry: @unchecked Sendable {
    typealias Function = @convention(c) (
        UnsafePointer<chute_host_api>?, OpaquePointer?, UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int
    ) -> Int32

    public let symbol: String
    public let callPath: EntryCallPath
    let address: UnsafeMutableRawPointer
    let direct: Function
    let interface: FFICallInterface

    init(address: UnsafeMutableRawPointer, symbol: String, callPath: EntryCallPath) {
        self.address = address
        self.symbol = symbol
        self.callPath = callPath
        self.direct = unsafeBitCast(address, to: Function.self)
        let pointer = cffi_type_pointer()!
        // Five arguments of pointer size (size_t is 64-bit on every supported host), int32 result.
        self.interface = try! FFICallInterface(
            returnType: cffi_type_sint32(), argumentTypes: [pointer, pointer, pointer, pointer, cffi_type_uint64()])
    }

    @inline(__always)
    func call(host: UnsafePointer<chute_host_api>, call: OpaquePointer, state: UnsafeMutableRawPointer?,
              event: UnsafePointer<UInt8>?, length: Int) -> Int32 {
        switch callPath {
        case .direct:
            return direct(host, call, state, event, length)
        case .ffi:
            return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 6) { values in
                withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer?.self, capacity: 5) { pointers in
                    let base = values.baseAddress!
                    base[0] = UInt64(UInt(bitPattern: host))
                    base[1] = UInt64(UInt(bitPattern: UnsafeRawPointer(call)))
                    base[2] = UInt64(UInt(bitPattern: state))
                    base[3] = UInt64(UInt(bitPattern: event))
                    base[4] = UInt64(length)
                    base[5] = 0
                    for index in 0..<5 { pointers[index] = UnsafeMutableRawPointer(base + index) }
                    interface.call(address, result: UnsafeMutableRawPointer(base + 5), arguments: pointers.baseAddress!)
                    return Int32(truncatingIfNeeded: base[5])
                }
            }
        }
    }
}
