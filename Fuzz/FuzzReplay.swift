import Foundation

/// Replays corpus files through the fuzz targets, without libFuzzer: `chute-fuzz replay [DIR]`
/// runs every target over `DIR/TARGET/*` (DIR defaults to Fuzz/corpus), `chute-fuzz TARGET FILE…`
/// one target over files. A crash is a failure, as under the fuzzer.
enum FuzzReplay {
    static func main(_ arguments: [String]) {
        let usage = "usage: chute-fuzz replay [CORPUS_DIRECTORY] | chute-fuzz TARGET FILE...   targets: "
            + FuzzTargets.all.map(\.name).joined(separator: ", ")
        guard arguments.count >= 2 else {
            print(usage)
            exit(64)
        }
        if arguments[1] == "replay" {
            let root = arguments.count > 2 ? arguments[2] : "Fuzz/corpus"
            var total = 0
            for target in FuzzTargets.all {
                let directory = root + "/" + target.name
                let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
                for file in files { run(target, path: directory + "/" + file) }
                print("\(target.name): \(files.count) inputs replayed")
                total += files.count
            }
            print("chute-fuzz: \(total) inputs replayed, none crashed")
            return
        }
        guard let target = FuzzTargets.all.first(where: { $0.name == arguments[1] }) else {
            print(usage)
            exit(64)
        }
        for path in arguments.dropFirst(2) { run(target, path: path) }
    }

    private static func run(_ target: FuzzTargets.Target, path: String) {
        guard let data = FileManager.default.contents(atPath: path) else {
            print("chute-fuzz: cannot read \(path)")
            exit(66)
        }
        [UInt8](data).withUnsafeBufferPointer { FuzzTargets.run(target, $0) }
    }
}
