import Glibc

/// Blocking helpers for the worker side and for small control messages.
enum FileDescriptorIO {
    /// Writes all of `bytes`, retrying on EINTR and waiting on EAGAIN. Returns false if the peer
    /// is gone.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if count > 0 {
                offset += count
            } else if count < 0 && errno == EINTR {
                continue
            } else if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&descriptor, 1, 100)
            } else {
                return false
            }
        }
        return true
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { writeAll(fd, $0) }
    }

    /// Blocks until `fd` is readable or `timeoutMilliseconds` passes (-1: forever).
    static func waitReadable(_ fd: Int32, timeoutMilliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let count = poll(&descriptor, 1, timeoutMilliseconds)
            if count < 0 && errno == EINTR { continue }
            return count > 0
        }
    }
}
