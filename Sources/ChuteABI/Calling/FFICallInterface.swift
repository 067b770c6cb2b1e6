import CFFI

/// A libffi call interface (`ffi_cif`) prepared once, at load, for one C signature.
final class FFICallInterface: @unchecked Sendable {
    let cif: UnsafeMutablePointer<ffi_cif>
    private let argumentTypes: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>
    let argumentCount: Int

    init(returnType: UnsafeMutablePointer<ffi_type>, argumentTypes types: [UnsafeMutablePointer<ffi_type>]) throws(HandlerLoadError) {
        cif = .allocate(capacity: 1)
        argumentCount = types.count
        argumentTypes = .allocate(capacity: max(types.count, 1))
        for (index, type) in types.enumerated() { argumentTypes[index] = type }
        let status = ffi_prep_cif(cif, cffi_default_abi(), UInt32(types.count), returnType, types.isEmpty ? nil : argumentTypes)
        guard status == FFI_OK else {
            throw HandlerLoadError(.signatureUnsupported, "libffi cannot prepare a call interface for this signature (status \(status.rawValue))")
        }
    }

    deinit {
        cif.deallocate()
        argumentTypes.deallocate()
    }

    /// Calls `function` with argument values laid out as `arguments` (pointers to each value) and
    /// writes the result into `result` (at least 8 bytes, as libffi requires).
    @inline(__always)
    func call(_ function: UnsafeMutableRawPointer, result: UnsafeMutableRawPointer, arguments: UnsafeMutablePointer<UnsafeMutableRawPointer?>) {
        ffi_call(cif, unsafeBitCast(function, to: (@convention(c) () -> Void).self), result, arguments)
    }
}
