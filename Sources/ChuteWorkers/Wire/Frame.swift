import Glibc

/// Frames on the host <-> worker channels: an 8-byte header (payload length, kind) and a payload.
///
/// Both channels are stream sockets, so frames can be pipelined: a host may write many invoke
/// frames in one `write`, and a worker answers in as few writes as it can.
enum FrameKind: UInt8, Sendable {
    // host -> zygote
    case configure = 1
    case spawn = 2
    // zygote -> host
    case loaded = 10
    case loadFailed = 11
    case spawned = 12
    case spawnFailed = 13
    case exited = 14
    // host -> worker
    case invoke = 20
    case stop = 21
    // worker -> host
    case initialized = 30
    case initFailed = 31
    case log = 32
    case response = 33
}

enum FrameHeader {
    static let size = 8
    /// Larger frames are a protocol error (the largest legitimate one is a 64 MB response).
    static let maximumPayload = 80 << 20
}

/// Appends binary values to a buffer.
struct WireWriter {
    var bytes: [UInt8] = []

    mutating func beginFrame(_ kind: FrameKind) -> Int {
        let start = bytes.count
        bytes.append(contentsOf: [0, 0, 0, 0, kind.rawValue, 0, 0, 0])
        return start
    }

    mutating func endFrame(_ start: Int) {
        let length = UInt32(bytes.count - start - FrameHeader.size)
        bytes[start] = UInt8(truncatingIfNeeded: length)
        bytes[start + 1] = UInt8(truncatingIfNeeded: length >> 8)
        bytes[start + 2] = UInt8(truncatingIfNeeded: length >> 16)
        bytes[start + 3] = UInt8(truncatingIfNeeded: length >> 24)
    }

    mutating func frame(_ kind: FrameKind, _ body: (inout WireWriter) -> Void) {
        let start = beginFrame(kind)
        body(&self)
        endFrame(start)
    }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func i32(_ value: Int32) { u32(UInt32(bitPattern: value)) }
    mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func i64(_ value: Int64) { u64(UInt64(bitPattern: value)) }
    mutating func blob(_ value: [UInt8]) {
        u32(UInt32(value.count))
        bytes.append(contentsOf: value)
    }
    mutating func blob(_ value: UnsafeRawBufferPointer) {
        u32(UInt32(value.count))
        bytes.append(contentsOf: value)
    }
    mutating func string(_ value: String) { blob(Array(value.utf8)) }
    mutating func rest(_ value: [UInt8]) { bytes.append(contentsOf: value) }
}

/// Reads binary values from one frame's payload. Reading past the end yields zeros and sets
/// `isMalformed`, so a corrupt frame is detected once, at the end, instead of at every field.
struct WireReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0
    private(set) var isMalformed = false

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private mutating func take(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, offset + count <= bytes.count else {
            isMalformed = true
            return nil
        }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    }

    mutating func u8() -> UInt8 { take(1)?.first ?? 0 }
    mutating func u32() -> UInt32 { take(4).map { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) } ?? 0 }
    mutating func i32() -> Int32 { Int32(bitPattern: u32()) }
    mutating func u64() -> UInt64 { take(8).map { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) } ?? 0 }
    mutating func i64() -> Int64 { Int64(bitPattern: u64()) }
    mutating func blob() -> [UInt8] { take(Int(u32())).map { Array($0) } ?? [] }
    mutating func string() -> String { String(decoding: blob(), as: UTF8.self) }
    mutating func rest() -> [UInt8] { take(bytes.count - offset).map { Array($0) } ?? [] }
}

/// Accumulates bytes from a stream and cuts them into frames.
struct FrameBuffer {
    private(set) var storage: [UInt8] = []
    private var start = 0

    var hasPartialFrame: Bool { start < storage.count }

    private let scratch = ScratchBuffer(capacity: 64 * 1024)

    /// Reads what is available from `fd` without blocking. Returns bytes read, 0 at end of
    /// stream, -1 when nothing is available now (or on error, see errno).
    mutating func fill(from fd: Int32) -> Int {
        if start > 0 && start == storage.count {
            storage.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 1 << 20 {
            storage.removeFirst(start)
            start = 0
        }
        let count = recv(fd, scratch.bytes.baseAddress, scratch.bytes.count, Int32(MSG_DONTWAIT))
        if count > 0 { storage.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch.bytes[0..<count])) }
        return count
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        storage.append(contentsOf: bytes)
    }

    enum Step { case consumed, incomplete, oversized }

    /// Calls `body` with the next complete frame, if there is one, and consumes it.
    mutating func next(_ body: (FrameKind?, UnsafeRawBufferPointer) -> Void) -> Step {
        let available = storage.count - start
        guard available >= FrameHeader.size else { return .incomplete }
        let length = storage.withUnsafeBytes { raw in
            Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start, as: UInt32.self)))
        }
        guard length <= FrameHeader.maximumPayload else { return .oversized }
        guard available >= FrameHeader.size + length else { return .incomplete }
        let kind = FrameKind(rawValue: storage[start + 4])
        let payloadStart = start + FrameHeader.size
        storage.withUnsafeBytes { raw in
            body(kind, UnsafeRawBufferPointer(rebasing: raw[payloadStart..<(payloadStart + length)]))
        }
        start += FrameHeader.size + length
        return .consumed
    }
}

/// A receive buffer allocated once: receiving into it costs no zeroing and no allocation.
final class ScratchBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer
    init(capacity: Int) { bytes = .allocate(byteCount: capacity, alignment: 16) }
    deinit { bytes.deallocate() }
}
