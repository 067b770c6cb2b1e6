import CChuteSys
import ChuteABI
import ChuteCore
import Glibc

/// The `chute-worker` program: a zygote that loads one handler library and forks one child
/// process per instance.
///
/// Forking from this small, single-threaded process costs ~0.3 ms, against ~4 ms to spawn a
/// fresh Swift process, so a crashed instance is replaced quickly. The zygote never runs handler
/// code beyond the library's load-time constructors; `chute_init` runs in each child.
public enum WorkerMain {
    /// Runs the zygote on the control socket inherited as `controlFD`. Never returns.
    public static func runZygote(controlFD: Int32) -> Never {
        // No PR_SET_PDEATHSIG here: it fires when the *thread* that spawned us exits, and the host
        // spawns zygotes from pool threads that come and go. The zygote exits instead when its
        // control socket reaches end of file, which happens when the host dies; its children
        // (forked from this single-threaded process) die with it through their own PDEATHSIG.
        // Whatever else the host had open stays the host's (the spawn closes it too; this covers a
        // zygote started some other way).
        _ = chute_close_from(controlFD + 1)
        var zygote = Zygote(controlFD: controlFD)
        zygote.run()
    }
}

private struct Zygote {
    let controlFD: Int32
    var buffer = FrameBuffer()
    var receivedFDs: [Int32] = []
    var settings: WorkerSettings?
    var module: HandlerModule?
    var sigchldFD: Int32 = -1
    let controlScratch = ScratchBuffer(capacity: 64 * 1024)

    init(controlFD: Int32) { self.controlFD = controlFD }

    mutating func run() -> Never {
        sigchldFD = chute_sigchld_fd()
        while true {
            var descriptors = [pollfd(fd: controlFD, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: sigchldFD, events: Int16(POLLIN), revents: 0)]
            if poll(&descriptors, 2, -1) < 0 {
                if errno == EINTR { continue }
                exit(70)
            }
            if descriptors[1].revents != 0 { reapChildren() }
            if descriptors[0].revents != 0 {
                guard readControl() else { exit(0) }  // the host is gone
                processFrames()
            }
        }
    }

    private mutating func readControl() -> Bool {
        let chunk = controlScratch.bytes
        var fds = [Int32](repeating: -1, count: 8)
        var count: Int32 = 0
        let received = chute_recv_with_fds(controlFD, chunk.baseAddress, chunk.count, &fds, 8, &count)
        if received < 0 { return errno == EINTR || errno == EAGAIN }
        if received == 0 { return false }
        receivedFDs.append(contentsOf: fds.prefix(Int(count)))
        buffer.append(UnsafeRawBufferPointer(rebasing: chunk[0..<received]))
        return true
    }

    private mutating func processFrames() {
        var frames: [(FrameKind?, [UInt8])] = []
        while buffer.next({ kind, payload in frames.append((kind, Array(payload))) }) == .consumed {}
        for (kind, payload) in frames {
            payload.withUnsafeBytes { raw in
                var reader = WireReader(raw)
                switch kind {
                case .configure: configure(WorkerSettings.decode(&reader))
                case .spawn: spawn(workerID: reader.u64())
                default: break
                }
            }
        }
    }

    private mutating func configure(_ decoded: WorkerSettings?) {
        var writer = WireWriter()
        guard let decoded else {
            writer.frame(.loadFailed) { $0.string(HandlerLoadError.Code.loadFailed.rawValue); $0.string("malformed configure frame") }
            _ = FileDescriptorIO.writeAll(controlFD, writer.bytes)
            exit(65)
        }
        settings = decoded
        do {
            let handler = try HandlerReference.parse(decoded.handler)
            let loaded = try HandlerModule.load(path: decoded.library, handler: handler, callPath: decoded.callPath)
            module = loaded
            writer.frame(.loaded) { w in
                w.u32(loaded.info.structSize)
                w.u32(UInt32(loaded.info.abiMajor))
                w.u32(UInt32(loaded.info.abiMinor))
                w.u32(loaded.info.flags)
                w.string(loaded.info.name ?? "")
                w.string(loaded.info.version ?? "")
                w.u8(loaded.info.name == nil ? 0 : 1)
                w.u8(loaded.info.version == nil ? 0 : 1)
            }
        } catch let error as HandlerLoadError {
            writer.frame(.loadFailed) { $0.string(error.code.rawValue); $0.string(error.message) }
        } catch {
            writer.frame(.loadFailed) { $0.string(HandlerLoadError.Code.loadFailed.rawValue); $0.string("\(error)") }
        }
        _ = FileDescriptorIO.writeAll(controlFD, writer.bytes)
    }

    private mutating func spawn(workerID: UInt64) {
        var writer = WireWriter()
        guard receivedFDs.count >= 2, let settings, let module else {
            writer.frame(.spawnFailed) { $0.u64(workerID); $0.string("spawn request without its descriptors or before a successful load") }
            _ = FileDescriptorIO.writeAll(controlFD, writer.bytes)
            return
        }
        let channelFD = receivedFDs.removeFirst()
        let outputFD = receivedFDs.removeFirst()
        let pid = chute_fork()
        if pid == 0 {
            close(controlFD)
            close(sigchldFD)
            receivedFDs.forEach { close($0) }
            WorkerChild(channelFD: channelFD, outputFD: outputFD, settings: settings, module: module).run()
        }
        close(channelFD)
        close(outputFD)
        if pid < 0 {
            let reason = String(cString: strerror(errno))
            writer.frame(.spawnFailed) { $0.u64(workerID); $0.string("fork failed: \(reason)") }
        } else {
            writer.frame(.spawned) { $0.u64(workerID); $0.i32(pid) }
        }
        _ = FileDescriptorIO.writeAll(controlFD, writer.bytes)
    }

    private mutating func reapChildren() {
        chute_drain_signalfd(sigchldFD)
        var writer = WireWriter()
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { break }
            writer.frame(.exited) { $0.i32(pid); $0.i32(status) }
        }
        if !writer.bytes.isEmpty { _ = FileDescriptorIO.writeAll(controlFD, writer.bytes) }
    }
}
