/// Little-endian binary records for the rows that hold many events or messages in one blob.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func integer<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Bytes of at most 65,535, after their `u16` length.
    mutating func short(_ value: some Collection<UInt8>) {
        integer(UInt16(value.count))
        bytes.append(contentsOf: value)
    }

    /// Bytes after their `u32` length.
    mutating func long(_ value: some Collection<UInt8>) {
        integer(UInt32(value.count))
        bytes.append(contentsOf: value)
    }
}

/// Reads what `ByteWriter` wrote; nil where the bytes end too early.
struct ByteReader {
    let bytes: [UInt8]
    private var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard offset + size <= bytes.count else { return nil }
        var value: T = 0
        for index in 0..<size { value |= T(bytes[offset + index]) << (8 * index) }
        offset += size
        return value
    }

    mutating func short() -> ArraySlice<UInt8>? {
        integer(UInt16.self).flatMap { take(Int($0)) }
    }

    mutating func long() -> ArraySlice<UInt8>? {
        integer(UInt32.self).flatMap { take(Int($0)) }
    }

    private mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard offset + count <= bytes.count else { return nil }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }
}

/// Splits items into runs for rows holding many of them: at most `maxCount` items and about
/// `maxBytes` bytes each (an item larger than that gets a row alone).
func rowChunks<T>(_ items: [T], maxCount: Int, maxBytes: Int, size: (T) -> Int) -> [ArraySlice<T>] {
    var chunks: [ArraySlice<T>] = []
    var start = 0
    var bytes = 0
    for (index, item) in items.enumerated() {
        let itemSize = size(item)
        if index > start && (index - start >= maxCount || bytes + itemSize > maxBytes) {
            chunks.append(items[start..<index])
            start = index
            bytes = 0
        }
        bytes += itemSize
    }
    if start < items.count { chunks.append(items[start...]) }
    return chunks
}
