import Glibc

/// Finds the `chute-worker` program: `$CHUTE_WORKER`, else beside the running executable (the
/// `chute` binary, or the test bundle in `.build/<config>/`).
enum WorkerExecutable {
    static func locate() throws -> String {
        if let configured = getenv("CHUTE_WORKER").map({ String(cString: $0) }), !configured.isEmpty {
            guard access(configured, X_OK) == 0 else {
                throw PoolError("CHUTE_WORKER is \(configured), which is not an executable file")
            }
            return configured
        }
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if count > 0 {
            let exe = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            var directory = exe
            for _ in 0..<3 {
                guard let slash = directory.lastIndex(of: "/") else { break }
                directory = String(directory[..<slash])
                let candidate = directory + "/chute-worker"
                if access(candidate, X_OK) == 0 { return candidate }
            }
            throw PoolError("cannot find chute-worker beside \(exe); build it (swift build --product chute-worker) or set CHUTE_WORKER to its path")
        }
        throw PoolError("cannot find chute-worker: /proc/self/exe is unreadable; set CHUTE_WORKER to its path")
    }
}
