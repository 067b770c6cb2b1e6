/// Kinesis's rule for stream names: 1-128 of `[a-zA-Z0-9_.-]`.
public enum StreamName {
    public static func isValid(_ name: String) -> Bool {
        (1...128).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || "_.-".utf8.contains(byte)
        }
    }
}
