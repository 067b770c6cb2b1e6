import CChuteABI

/// What `chute_module()` said, copied out of the module's static data.
public struct ModuleInfo: Sendable, Hashable {
    public var structSize: UInt32
    public var abiMajor: UInt16
    public var abiMinor: UInt16
    public var flags: UInt32
    public var name: String?
    public var version: String?

    public init(structSize: UInt32, abiMajor: UInt16, abiMinor: UInt16, flags: UInt32, name: String?, version: String?) {
        self.structSize = structSize
        self.abiMajor = abiMajor
        self.abiMinor = abiMinor
        self.flags = flags
        self.name = name
        self.version = version
    }

    public var isThreadSafe: Bool { flags & UInt32(CHUTE_FLAG_THREAD_SAFE) != 0 }
}

/// The ABI version this host implements.
public enum HostABI {
    public static let major = UInt16(CHUTE_ABI_MAJOR)
    public static let minor = UInt16(CHUTE_ABI_MINOR)
    /// The smallest `chute_module_info` a module may return: every field of version 1.0.
    public static let minimumModuleInfoSize = UInt32(MemoryLayout<chute_module_info>.size)
}
