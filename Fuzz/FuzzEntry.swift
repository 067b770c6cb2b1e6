// chute-fuzz: libFuzzer targets for what Chute reads from outside (requests, files, workers).
//
// Built two ways (scripts/fuzz.sh):
// - as a libFuzzer binary (`-sanitize=fuzzer -DFUZZING`): `main` hands over to libFuzzer's driver,
//   which calls `LLVMFuzzerTestOneInput` with generated inputs; CHUTE_FUZZ_TARGET picks the target.
// - as a plain program (`swift build`): `chute-fuzz replay [DIRECTORY]` runs every target over
//   its corpus in Fuzz/corpus/TARGET, so inputs that once crashed stay regression tests.
import Glibc

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTargets.run(FuzzTargets.selected, UnsafeBufferPointer(start: data, count: size))
    return 0
}

@main
struct ChuteFuzz {
    static func main() {
        #if FUZZING
        // SwiftPM makes this module's entry point the program's `main`, so libFuzzer's own is not
        // linked; its driver is (found by name: scripts/fuzz.sh exports the binary's symbols),
        // and takes over from here.
        typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
        typealias Driver = @convention(c) (UnsafeMutablePointer<CInt>, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                                           TestOneInput) -> CInt
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "LLVMFuzzerRunDriver") else {
            fatalError("chute-fuzz: libFuzzer's driver is missing; build with -sanitize=fuzzer")
        }
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(unsafeBitCast(symbol, to: Driver.self)(&argc, &argv, fuzzOneInput))
        #else
        FuzzReplay.main(CommandLine.arguments)
        #endif
    }
}
