import CFFI
import ChuteCore
import Glibc

/// A plain C function called through libffi with a declared signature.
public final class DeclaredCall: @unchecked Sendable {
    public let signature: DeclaredSignature
    let address: UnsafeMutableRawPointer
    let freeFunction: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
    let interface: FFICallInterface

    init(signature: DeclaredSignature, address: UnsafeMutableRawPointer, freeAddress: UnsafeMutableRawPointer?) throws(HandlerLoadError) {
        self.signature = signature
        self.address = address
        self.freeFunction = freeAddress.map { unsafeBitCast($0, to: (@convention(c) (UnsafeMutableRawPointer?) -> Void).self) }
        var types: [UnsafeMutablePointer<ffi_type>] = []
        for parameter in signature.parameters {
            switch parameter {
            case .bytes: types += [cffi_type_pointer(), cffi_type_uint64()]
            default: types.append(Self.ffiType(parameter))
            }
        }
        self.interface = try FFICallInterface(returnType: Self.ffiType(signature.returnType), argumentTypes: types)
    }

    private static func ffiType(_ type: CType) -> UnsafeMutablePointer<ffi_type> {
        switch type {
        case .int32: cffi_type_sint32()
        case .int64: cffi_type_sint64()
        case .double: cffi_type_double()
        case .bool: cffi_type_uint8()
        case .cstring, .bytes: cffi_type_pointer()
        case .void: cffi_type_void()
        }
    }

    /// Calls the function. Every argument lives in memory owned by this call until it returns.
    func call(_ arguments: [CValue]) -> CValue {
        let slots = interface.argumentCount
        let values = UnsafeMutablePointer<UInt64>.allocate(capacity: slots + 1)
        let pointers = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: max(slots, 1))
        var owned: [UnsafeMutablePointer<UInt8>] = []
        defer {
            values.deallocate()
            pointers.deallocate()
            owned.forEach { $0.deallocate() }
        }
        func copy(_ bytes: [UInt8], terminate: Bool) -> UnsafeMutablePointer<UInt8> {
            let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count + 1)
            bytes.withUnsafeBufferPointer { source in
                if let base = source.baseAddress { buffer.update(from: base, count: bytes.count) }
            }
            if terminate { buffer[bytes.count] = 0 }
            owned.append(buffer)
            return buffer
        }
        var slot = 0
        func put(_ word: UInt64) {
            values[slot] = word
            pointers[slot] = UnsafeMutableRawPointer(values + slot)
            slot += 1
        }
        for argument in arguments {
            switch argument {
            case .int32(let value):
                values[slot] = 0
                UnsafeMutableRawPointer(values + slot).storeBytes(of: value, as: Int32.self)
                pointers[slot] = UnsafeMutableRawPointer(values + slot)
                slot += 1
            case .int64(let value): put(UInt64(bitPattern: value))
            case .double(let value): put(value.bitPattern)
            case .bool(let value):
                values[slot] = 0
                UnsafeMutableRawPointer(values + slot).storeBytes(of: value ? 1 : 0, as: UInt8.self)
                pointers[slot] = UnsafeMutableRawPointer(values + slot)
                slot += 1
            case .cstring(nil): put(0)
            case .cstring(let bytes?): put(UInt64(UInt(bitPattern: copy(bytes, terminate: true))))
            case .bytes(let bytes):
                put(UInt64(UInt(bitPattern: copy(bytes, terminate: false))))
                put(UInt64(bytes.count))
            case .void: break
            }
        }
        values[slots] = 0
        let result = UnsafeMutableRawPointer(values + slots)
        interface.call(address, result: result, arguments: pointers)
        switch signature.returnType {
        case .void: return .void
        case .int32: return .int32(Int32(truncatingIfNeeded: result.load(as: UInt64.self)))
        case .int64: return .int64(result.load(as: Int64.self))
        case .double: return .double(result.load(as: Double.self))
        case .bool: return .bool(result.load(as: UInt64.self) & 0xFF != 0)
        case .cstring, .bytes:
            guard let pointer = result.load(as: UnsafeMutablePointer<CChar>?.self) else { return .cstring(nil) }
            let bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: strlen(pointer)))
            freeFunction?(UnsafeMutableRawPointer(pointer))
            return .cstring(bytes)
        }
    }
}
