import CChuteABI
import CChuteHandlerSupport
import Glibc
import Synchronization

/// The library's handler, set by `Chute.register` from `chute_swift_main`.
struct Registration: Sendable {
    let name: String
    let version: String
    let threadSafe: Bool
    let handler: @Sendable ([UInt8], ChuteContext) throws -> [UInt8]
}

/// Holds the registration and the module info built from it (C strings the host may keep).
final class Registry: Sendable {
    static let shared = Registry()
    private let registration = Mutex<Registration?>(nil)

    func set(_ value: Registration) { registration.withLock { $0 = value } }

    /// Runs `chute_swift_main` once, then returns what it registered.
    static let loaded: Registration? = {
        _ = chute_swift_call_main()
        return shared.registration.withLock { $0 }
    }()

    /// Static for the life of the process, as the ABI requires of `chute_module`'s result.
    nonisolated(unsafe) static let moduleInfo: UnsafeMutablePointer<chute_module_info> = {
        let info = UnsafeMutablePointer<chute_module_info>.allocate(capacity: 1)
        let registration = loaded
        info.initialize(to: chute_module_info(
            struct_size: UInt32(MemoryLayout<chute_module_info>.size),
            abi_major: UInt16(CHUTE_ABI_MAJOR), abi_minor: UInt16(CHUTE_ABI_MINOR),
            flags: registration?.threadSafe == true ? CHUTE_FLAG_THREAD_SAFE : 0,
            name: UnsafePointer(strdup(registration?.name ?? "unregistered-swift-handler")),
            version: UnsafePointer(strdup(registration?.version ?? "0"))))
        return info
    }()
}

// MARK: The C ABI, exported by every library built with ChuteHandler

@_cdecl("chute_module")
public func chuteModuleExport() -> UnsafePointer<chute_module_info> {
    UnsafePointer(Registry.moduleInfo)
}

@_cdecl("chute_init")
public func chuteInitExport(
    _ host: UnsafePointer<chute_host_api>, _ call: OpaquePointer, _ config: UnsafePointer<UInt8>?, _ configLength: Int,
    _ stateOut: UnsafeMutablePointer<UnsafeMutableRawPointer?>
) -> Int32 {
    stateOut.pointee = nil
    guard Registry.loaded != nil else {
        _ = host.pointee.set_error(
            call, "Runtime.NoHandlerRegistered",
            "this library links ChuteHandler but registers no handler: define @_cdecl(\"chute_swift_main\") and call Chute.register in it",
            nil)
        return CHUTE_HANDLED_ERROR
    }
    return CHUTE_OK
}

@_cdecl("chute_handle")
public func chuteHandleExport(
    _ host: UnsafePointer<chute_host_api>, _ call: OpaquePointer, _ state: UnsafeMutableRawPointer?,
    _ event: UnsafePointer<UInt8>?, _ eventLength: Int
) -> Int32 {
    guard let registration = Registry.loaded else {
        _ = host.pointee.set_error(call, "Runtime.NoHandlerRegistered", "no handler registered", nil)
        return CHUTE_HANDLED_ERROR
    }
    let bytes = event.map { Array(UnsafeBufferPointer(start: $0, count: eventLength)) } ?? []
    let context = ChuteContext(host: host, call: call)
    do {
        let response = try registration.handler(bytes, context)
        return response.withUnsafeBufferPointer { host.pointee.write_response(call, $0.baseAddress, $0.count) }
    } catch let error as HandledError {
        _ = host.pointee.set_error(call, error.type, error.message, nil)
        return CHUTE_HANDLED_ERROR
    } catch {
        _ = host.pointee.set_error(call, String(describing: type(of: error)), String(describing: error), nil)
        return CHUTE_HANDLED_ERROR
    }
}
