import CChuteSys
import ChuteABI
import Glibc
import Synchronization

/// The host's handle on one `chute-worker` zygote: it loaded the function's library and forks
/// a child for every instance the pool asks for.
final class ZygoteHandle: @unchecked Sendable {
    let pid: pid_t
    private let controlFD: Int32
    private let supervisor: Supervisor
    private var watchKey: UInt64 = 0
    private let writeLock = Mutex(())
    private let state = Mutex(State())

    private struct State {
        var buffer = FrameBuffer()
        var spawnWaiters: [UInt64: @Sendable (Result<pid_t, PoolError>) -> Void] = [:]
        var loaded: Completion<Result<ModuleInfo, HandlerLoadError>>? = Completion()
        var isClosed = false
    }

    /// Called on the supervisor thread with every child's exit status; `nil` pid: the zygote died.
    var onExit: @Sendable (_ pid: pid_t?, _ status: Int32) -> Void = { _, _ in }

    /// Starts a zygote for `settings` and waits until it loaded the library.
    static func start(settings: WorkerSettings, supervisor: Supervisor) async throws -> (ZygoteHandle, ModuleInfo) {
        let executable = try WorkerExecutable.locate()
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw PoolError("socketpair failed: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pair[1], 3)
        _ = chute_spawn_close_from(&actions, 4)
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(executable), strdup("--zygote"), nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        Glibc.close(pair[1])
        guard status == 0 else {
            Glibc.close(pair[0])
            throw PoolError("cannot start \(executable): \(String(cString: strerror(status)))")
        }
        let zygote = ZygoteHandle(pid: pid, controlFD: pair[0], supervisor: supervisor)
        zygote.watchKey = supervisor.watch(fd: pair[0], events: CHUTE_EPOLLIN) { [zygote] _ in zygote.readControl() }
        var writer = WireWriter()
        settings.encode(into: &writer)
        zygote.send(writer.bytes, fds: [])
        let loaded = await zygote.state.withLock { $0.loaded! }.wait(spinNanoseconds: 0)
        zygote.state.withLock { $0.loaded = nil }
        switch loaded {
        case .success(let info): return (zygote, info)
        case .failure(let error):
            zygote.close()
            throw error
        }
    }

    private init(pid: pid_t, controlFD: Int32, supervisor: Supervisor) {
        self.pid = pid
        self.controlFD = controlFD
        self.supervisor = supervisor
    }

    deinit {
        Glibc.close(controlFD)
    }

    /// Asks for a child that serves on `channelFD` and writes its output to `outputFD`.
    func spawn(workerID: UInt64, channelFD: Int32, outputFD: Int32, _ done: @escaping @Sendable (Result<pid_t, PoolError>) -> Void) {
        let closed = state.withLock { state in
            if !state.isClosed { state.spawnWaiters[workerID] = done }
            return state.isClosed
        }
        if closed {
            done(.failure(PoolError("the worker zygote has exited")))
            return
        }
        var writer = WireWriter()
        writer.frame(.spawn) { $0.u64(workerID) }
        send(writer.bytes, fds: [channelFD, outputFD])
    }

    private func send(_ bytes: [UInt8], fds: [Int32]) {
        writeLock.withLock { _ in
            var offset = 0
            var pendingFDs = fds
            while offset < bytes.count {
                let sent = bytes.withUnsafeBytes { raw in
                    pendingFDs.withUnsafeBufferPointer { fdBuffer in
                        chute_send_with_fds(controlFD, raw.baseAddress! + offset, raw.count - offset, fdBuffer.baseAddress, Int32(fdBuffer.count))
                    }
                }
                if sent < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return
                }
                offset += sent
                pendingFDs = []
            }
        }
    }

    /// Supervisor thread: frames from the zygote.
    private func readControl() {
        var events: [() -> Void] = []
        let ended: Bool = state.withLock { state in
            let count = state.buffer.fill(from: controlFD)
            if count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return true
            }
            while true {
                var event: (() -> Void)?
                let step = state.buffer.next { kind, payload in event = { () -> (() -> Void)? in
                    var reader = WireReader(payload)
                    switch kind {
                    case .loaded:
                        let info = ModuleInfo(structSize: reader.u32(), abiMajor: UInt16(reader.u32()), abiMinor: UInt16(reader.u32()),
                                              flags: reader.u32(), name: reader.string(), version: reader.string())
                        let hasName = reader.u8() == 1, hasVersion = reader.u8() == 1
                        var cleaned = info
                        if !hasName { cleaned.name = nil }
                        if !hasVersion { cleaned.version = nil }
                        let waiter = state.loaded
                        return { waiter?.complete(.success(cleaned)) }
                    case .loadFailed:
                        let code = HandlerLoadError.Code(rawValue: reader.string()) ?? .loadFailed
                        let error = HandlerLoadError(code, reader.string())
                        let waiter = state.loaded
                        return { waiter?.complete(.failure(error)) }
                    case .spawned:
                        let id = reader.u64(), pid = reader.i32()
                        let waiter = state.spawnWaiters.removeValue(forKey: id)
                        return { waiter?(.success(pid)) }
                    case .spawnFailed:
                        let id = reader.u64(), reason = reader.string()
                        let waiter = state.spawnWaiters.removeValue(forKey: id)
                        return { waiter?(.failure(PoolError(reason))) }
                    case .exited:
                        let pid = reader.i32(), status = reader.i32()
                        return { [self] in onExit(pid, status) }
                    default:
                        return nil
                    }
                }() }
                guard step == .consumed else { break }
                if let event { events.append(event) }
            }
            return false
        }
        events.forEach { $0() }
        if ended { zygoteEnded() }
    }

    private func zygoteEnded() {
        let (waiters, loaded) = state.withLock { state in
            state.isClosed = true
            defer { state.spawnWaiters.removeAll() }
            return (Array(state.spawnWaiters.values), state.loaded)
        }
        // The descriptor closes in deinit: a spawn racing this must not write into a number reused.
        supervisor.remove(fd: controlFD, key: watchKey)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        loaded?.complete(.failure(HandlerLoadError(.loadFailed, "the worker process exited while loading the library (\(ExitDescription.of(status)))")))
        waiters.forEach { $0(.failure(PoolError("the worker zygote exited"))) }
        onExit(nil, status)
    }

    /// Closes the control channel: the zygote exits, and its children with it.
    func close() {
        let wasOpen = state.withLock { state in
            defer { state.isClosed = true }
            return !state.isClosed
        }
        guard wasOpen else { return }
        _ = shutdown(controlFD, Int32(SHUT_RDWR))
    }
}

/// Wait statuses in words, for logs.
enum ExitDescription {
    static func of(_ status: Int32) -> String {
        if chute_wifexited(status) != 0 { return "exit status \(chute_wexitstatus(status))" }
        if chute_wifsignaled(status) != 0 { return "signal \(chute_wtermsig(status))" }
        return "status \(status)"
    }
}
