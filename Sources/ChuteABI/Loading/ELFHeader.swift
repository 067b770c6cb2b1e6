import Glibc

/// Reads the ELF identification of a file before `dlopen` sees it, so that "not a shared object"
/// and "built for another architecture" get precise messages instead of the loader's terse ones.
public enum ELFHeader {
    static let hostMachine: UInt16 = {
        #if arch(x86_64)
        return 62
        #elseif arch(arm64)
        return 183
        #else
        return 0
        #endif
    }()

    public static func check(path: String) throws(HandlerLoadError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw HandlerLoadError(errno == ENOENT ? .fileNotFound : .loadFailed, "\(path): cannot open: \(reason)")
        }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 64)
        let count = header.withUnsafeMutableBytes { read(fd, $0.baseAddress, 64) }
        guard count >= 20, header[0] == 0x7F, header[1] == UInt8(ascii: "E"), header[2] == UInt8(ascii: "L"),
            header[3] == UInt8(ascii: "F")
        else {
            throw HandlerLoadError(.notSharedObject, "\(path) is not a shared object (no ELF header; is it a source file, an archive or a script?)")
        }
        guard header[4] == 2 else {
            throw HandlerLoadError(.wrongArchitecture, "\(path) is a 32-bit ELF file; the host is 64-bit \(machineName(hostMachine))")
        }
        guard header[5] == 1 else {
            throw HandlerLoadError(.wrongArchitecture, "\(path) is a big-endian ELF file; the host is little-endian \(machineName(hostMachine))")
        }
        let type = UInt16(header[16]) | UInt16(header[17]) << 8
        let machine = UInt16(header[18]) | UInt16(header[19]) << 8
        guard machine == hostMachine else {
            throw HandlerLoadError(.wrongArchitecture, "\(path) is built for \(machineName(machine)); the host is \(machineName(hostMachine))")
        }
        guard type == 3 else {
            let kind = type == 2 ? "an executable" : type == 1 ? "a relocatable object (.o)" : "ELF type \(type)"
            throw HandlerLoadError(.notSharedObject, "\(path) is \(kind), not a shared object; link it with -shared")
        }
    }

    static func machineName(_ machine: UInt16) -> String {
        switch machine {
        case 3: "x86 (i386)"
        case 8: "MIPS"
        case 20: "PowerPC"
        case 21: "PowerPC64"
        case 22: "s390x"
        case 40: "ARM (32-bit)"
        case 62: "x86_64"
        case 183: "aarch64 (arm64)"
        case 243: "RISC-V"
        default: "ELF machine \(machine)"
        }
    }
}
