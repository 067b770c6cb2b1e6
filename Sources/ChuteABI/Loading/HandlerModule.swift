import CChuteABI
import ChuteCore

/// A loaded handler library with its module info checked and every symbol it needs resolved.
///
/// Loading checks, in order: the file, `dlopen`, `chute_module` (present, non-NULL result, large
/// enough, compatible ABI version), then the entry point (and a declared signature's free
/// function). Only then may an instance run `chute_init`.
public final class HandlerModule: @unchecked Sendable {
    public let library: SharedLibrary
    public let info: ModuleInfo
    public let entry: EntryPoint
    let initFunction: InitFunction?
    let destroyFunction: DestroyFunction?

    typealias InitFunction = @convention(c) (
        UnsafePointer<chute_host_api>?, OpaquePointer?, UnsafePointer<UInt8>?, Int,
        UnsafeMutablePointer<UnsafeMutableRawPointer?>?
    ) -> Int32
    typealias DestroyFunction = @convention(c) (UnsafeMutableRawPointer?) -> Void
    typealias ModuleFunction = @convention(c) () -> UnsafePointer<chute_module_info>?

    /// Which exported hooks exist, for `chute inspect`.
    public var hasInit: Bool { initFunction != nil }
    public var hasDestroy: Bool { destroyFunction != nil }

    /// Loads `path` for `handler`. A declared signature needs no `chute_module`: it names a plain C
    /// function (libm's `hypot`, say).
    public static func load(path: String, handler: HandlerReference, callPath: EntryCallPath = .direct) throws(HandlerLoadError) -> HandlerModule {
        let library = try SharedLibrary.open(path)
        switch handler {
        case .entryPoint(let symbol):
            let info = try readModuleInfo(library)
            guard let address = library.symbol(symbol) else {
                throw HandlerLoadError(.missingEntrySymbol, "\(path) has no entry point '\(symbol)' (check the handler name; `nm -D \(path)` lists the exported symbols)")
            }
            let entry = EntryPoint.native(NativeEntry(address: address, symbol: symbol, callPath: callPath))
            return HandlerModule(library: library, info: info, entry: entry,
                                 initFunction: library.symbol("chute_init").map { unsafeBitCast($0, to: InitFunction.self) },
                                 destroyFunction: library.symbol("chute_destroy").map { unsafeBitCast($0, to: DestroyFunction.self) })
        case .declared(let signature):
            guard let address = library.symbolOrGlobal(signature.symbol) else {
                throw HandlerLoadError(.missingEntrySymbol, "\(path) has no function '\(signature.symbol)' for the declared signature \(signature)")
            }
            var free: UnsafeMutableRawPointer?
            if let freeName = signature.freeFunction {
                guard let freeAddress = library.symbolOrGlobal(freeName) else {
                    throw HandlerLoadError(.missingFreeFunction, "\(path) has no free function '\(freeName)' named by \(signature)")
                }
                free = freeAddress
            }
            let call = try DeclaredCall(signature: signature, address: address, freeAddress: free)
            let info = ModuleInfo(structSize: 0, abiMajor: 0, abiMinor: 0, flags: UInt32(CHUTE_FLAG_THREAD_SAFE),
                                  name: signature.symbol, version: nil)
            return HandlerModule(library: library, info: info, entry: .declared(call), initFunction: nil, destroyFunction: nil)
        }
    }

    /// Loads only the module info and lists hooks, for `chute inspect`.
    public static func inspect(path: String) throws(HandlerLoadError) -> (info: ModuleInfo, exportedHooks: [String]) {
        let library = try SharedLibrary.open(path)
        let info = try readModuleInfo(library)
        let hooks = ["chute_module", "chute_init", HandlerReference.defaultSymbol, "chute_destroy"].filter { library.symbol($0) != nil }
        return (info, hooks)
    }

    private init(library: SharedLibrary, info: ModuleInfo, entry: EntryPoint, initFunction: InitFunction?, destroyFunction: DestroyFunction?) {
        self.library = library
        self.info = info
        self.entry = entry
        self.initFunction = initFunction
        self.destroyFunction = destroyFunction
    }

    static func readModuleInfo(_ library: SharedLibrary) throws(HandlerLoadError) -> ModuleInfo {
        let path = library.path
        guard let address = library.symbol("chute_module") else {
            throw HandlerLoadError(.missingModuleSymbol, "\(path) does not export chute_module(); add CHUTE_MODULE(\"name\", \"version\", 0) from chute.h")
        }
        let moduleFunction = unsafeBitCast(address, to: ModuleFunction.self)
        guard let raw = moduleFunction() else {
            throw HandlerLoadError(.moduleInfoMissing, "\(path): chute_module() returned NULL")
        }
        // Read struct_size before anything else: a smaller struct must not be read past its end.
        let size = UnsafeRawPointer(raw).load(as: UInt32.self)
        guard size >= HostABI.minimumModuleInfoSize else {
            throw HandlerLoadError(.moduleInfoTooSmall, "\(path): chute_module_info is \(size) bytes; ABI \(HostABI.major).\(HostABI.minor) needs at least \(HostABI.minimumModuleInfoSize)")
        }
        let value = raw.pointee
        guard value.abi_major == HostABI.major, value.abi_minor <= HostABI.minor else {
            throw HandlerLoadError(.abiVersionMismatch, "\(path) was built for Chute ABI \(value.abi_major).\(value.abi_minor); this host implements ABI \(HostABI.major).\(HostABI.minor) (it accepts \(HostABI.major).0 to \(HostABI.major).\(HostABI.minor))")
        }
        return ModuleInfo(structSize: size, abiMajor: value.abi_major, abiMinor: value.abi_minor, flags: value.flags,
                          name: value.name.map { String(cString: $0) }, version: value.version.map { String(cString: $0) })
    }
}

/// How an instance calls its function.
public enum EntryPoint: Sendable {
    case native(NativeEntry)
    case declared(DeclaredCall)
}
