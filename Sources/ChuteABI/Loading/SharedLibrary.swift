import Glibc

/// A library opened with `dlopen(RTLD_NOW | RTLD_LOCAL)`.
///
/// Libraries are never closed: an abandoned thread may still run code inside one, and Swift and
/// Rust libraries do not support unloading well. A library stays mapped for the life of the
/// process that opened it (in process isolation, the worker process).
public final class SharedLibrary: @unchecked Sendable {
    public let path: String
    let handle: UnsafeMutableRawPointer

    public static func open(_ path: String) throws(HandlerLoadError) -> SharedLibrary {
        // A bare soname such as "libm.so.6" is the dynamic loader's to find; a path is checked first.
        if path.contains("/") {
            try ELFHeader.check(path: path)
        }
        _ = dlerror()
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let detail = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw classify(path: path, loaderMessage: detail)
        }
        return SharedLibrary(path: path, handle: handle)
    }

    private init(path: String, handle: UnsafeMutableRawPointer) {
        self.path = path
        self.handle = handle
    }

    /// The address of a symbol defined by this library (or its dependencies), nil if absent.
    public func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        _ = dlerror()
        return dlsym(handle, name)
    }

    /// A symbol from this library, else from anything loaded globally (libc's `free`, say).
    func symbolOrGlobal(_ name: String) -> UnsafeMutableRawPointer? {
        if let own = symbol(name) { return own }
        return dlsym(UnsafeMutableRawPointer(bitPattern: 0), name)  // RTLD_DEFAULT
    }

    private static func classify(path: String, loaderMessage: String) -> HandlerLoadError {
        if loaderMessage.contains("undefined symbol") {
            return HandlerLoadError(.unresolvedSymbol, "\(path) cannot be loaded: a symbol it needs is defined nowhere (\(loaderMessage))")
        }
        if loaderMessage.contains("cannot open shared object file") {
            // The loader names the file it could not open: ours, or one of its dependencies.
            let failing = loaderMessage.split(separator: ":").first.map(String.init) ?? path
            if failing == path || !path.contains("/") {
                return HandlerLoadError(.fileNotFound, "\(path): no such shared library (\(loaderMessage))")
            }
            return HandlerLoadError(.unresolvedDependency, "\(path) depends on \(failing), which the dynamic loader cannot find (\(loaderMessage)); install it or set LD_LIBRARY_PATH")
        }
        if loaderMessage.contains("wrong ELF class") || loaderMessage.contains("ELF file") {
            return HandlerLoadError(.wrongArchitecture, "\(path) cannot be loaded on this host: \(loaderMessage)")
        }
        if loaderMessage.contains("invalid ELF header") || loaderMessage.contains("file too short") {
            return HandlerLoadError(.notSharedObject, "\(path) is not a shared object: \(loaderMessage)")
        }
        return HandlerLoadError(.loadFailed, "\(path) cannot be loaded: \(loaderMessage)")
    }
}
