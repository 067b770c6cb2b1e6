// swift-tools-version:6.0
// Chute: a host for native event handlers with AWS-Lambda-grade failure semantics.
//
// Dependencies point one way:
//   ChuteCore (pure domain, no I/O)
//     <- ChuteABI (the only dlopen / libffi / unsafe-pointer code)
//       <- ChuteWorkers (thread and process isolation, timeouts, pools)
//         <- ChuteHost (configuration files, function registry)
//   ChuteCore <- ChuteStore (durable events and queues: SQLite, or PostgreSQL for several hosts)
//   ChuteStore + ChuteWorkers <- ChuteAsync (the asynchronous pipeline)
//           <- chute (command line)
import PackageDescription

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "chute",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "chute", targets: ["chute"]),
        .executable(name: "chute-worker", targets: ["chute-worker"]),
        // Shipped handler library: fault injection for users' own crash testing.
        .library(name: "ChuteFaults", type: .dynamic, targets: ["ChuteFaults"]),
        // The smallest handler: the benchmark's no-op, and the shortest example of the ABI.
        .library(name: "ChuteNoop", type: .dynamic, targets: ["ChuteNoop"]),
        // The Swift handler SDK: Codable handlers over the C ABI.
        .library(name: "ChuteHandler", targets: ["ChuteHandler"]),
        // An example Swift handler built with the SDK (examples/handlers/swift).
        .library(name: "SwiftGreeter", type: .dynamic, targets: ["SwiftGreeter"]),
        // A handler for stream and queue mappings that the records themselves steer (examples/handlers/batch-probe).
        .library(name: "BatchProbe", type: .dynamic, targets: ["BatchProbe"]),
        // Measures call, invocation and crash-replacement costs (BENCHMARKS.md).
        .executable(name: "chute-bench", targets: ["chute-bench"]),
        // libFuzzer targets for every reader of untrusted input (scripts/fuzz.sh); built plainly, it
        // replays the corpus in Fuzz/corpus.
        .executable(name: "chute-fuzz", targets: ["chute-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.60.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
    ],
    targets: [
        // MARK: C modules
        .systemLibrary(name: "CChuteABI", path: "Sources/CChuteABI"),
        .systemLibrary(
            name: "CFFI", path: "Sources/CFFI", pkgConfig: "libffi",
            providers: [.apt(["libffi-dev"]), .brew(["libffi"])]),
        .target(name: "CChuteSys", path: "Sources/CChuteSys"),
        .systemLibrary(
            name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),
        .systemLibrary(
            name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]),

        // MARK: Layers
        .target(name: "ChuteCore", swiftSettings: strictSwift),
        .target(
            name: "ChuteABI",
            dependencies: ["ChuteCore", "CChuteABI", "CFFI", "CChuteSys"],
            swiftSettings: strictSwift),
        .target(
            name: "ChuteWorkers",
            dependencies: [
                "ChuteCore", "ChuteABI", "CChuteSys",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift),
        // Durable stores behind one protocol: SQLite for one host, PostgreSQL for several.
        .target(name: "ChuteStore", dependencies: ["ChuteCore", "CSQLite", "CLibPQ"], swiftSettings: strictSwift),
        // The asynchronous invocation pipeline: dispatcher, retries, routing to destinations.
        .target(
            name: "ChuteAsync",
            dependencies: [
                "ChuteCore", "ChuteStore", "ChuteWorkers",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift),
        // `chute serve`: the host process, its HTTP APIs (Lambda, SQS) and its services.
        .target(
            name: "ChuteServer",
            dependencies: [
                "ChuteCore", "ChuteABI", "ChuteStore", "ChuteWorkers", "ChuteAsync", "ChuteHost",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSwift),
        .target(
            name: "ChuteHost",
            dependencies: [
                "ChuteCore", "ChuteWorkers",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: strictSwift),

        // MARK: Executables
        .executableTarget(
            name: "chute",
            dependencies: [
                "ChuteHost", "ChuteWorkers", "ChuteCore", "ChuteABI", "ChuteServer", "ChuteStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift),
        // The worker process: loads one handler library, forks one child per instance.
        .executableTarget(
            name: "chute-worker", dependencies: ["ChuteWorkers"], swiftSettings: strictSwift),
        .executableTarget(
            name: "chute-bench",
            dependencies: [
                "ChuteWorkers", "ChuteABI", "ChuteCore", "ChuteStore", "ChuteAsync",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift),

        .executableTarget(
            name: "chute-fuzz", dependencies: ["ChuteCore", "ChuteHost", "ChuteWorkers"], path: "Fuzz", exclude: ["corpus"],
            swiftSettings: strictSwift),

        // MARK: Handler libraries
        .target(
            name: "ChuteFaults", path: "Sources/ChuteFaults",
            cSettings: [.headerSearchPath("../../runtime-api")]),

        .target(
            name: "ChuteNoop", path: "Sources/ChuteNoop",
            cSettings: [.headerSearchPath("../../runtime-api")]),

        // MARK: Swift handler SDK
        .target(name: "CChuteHandlerSupport", path: "Sources/CChuteHandlerSupport"),
        .target(
            name: "ChuteHandler", dependencies: ["CChuteABI", "CChuteHandlerSupport"],
            swiftSettings: strictSwift),
        .target(
            name: "SwiftGreeter", dependencies: ["ChuteHandler"], path: "examples/handlers/swift",
            swiftSettings: strictSwift),
        .target(
            name: "BatchProbe", dependencies: ["ChuteHandler"], path: "examples/handlers/batch-probe",
            swiftSettings: strictSwift),

        // MARK: Plugins
        .plugin(
            name: "PackageHandler",
            capability: .command(
                intent: .custom(verb: "package-handler", description: "Build a handler product and package it as a deployable zip")),
            dependencies: ["chute"]),

        // MARK: Tests
        .target(
            name: "ChuteTestSupport", dependencies: ["ChuteCore"], path: "Tests/ChuteTestSupport",
            swiftSettings: strictSwift),
        .testTarget(
            name: "ChuteCoreTests",
            dependencies: ["ChuteCore", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: strictSwift),
        .testTarget(
            name: "ChuteAsyncTests",
            dependencies: [
                "ChuteAsync", "ChuteStore", "ChuteWorkers", "ChuteCore", "ChuteTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift),
        .testTarget(
            name: "ChuteStoreTests", dependencies: ["ChuteStore", "ChuteCore", "ChuteTestSupport"],
            swiftSettings: strictSwift),
        .testTarget(
            name: "ChuteABITests", dependencies: ["ChuteABI", "ChuteCore", "ChuteTestSupport"],
            swiftSettings: strictSwift),
        .testTarget(
            name: "ChuteWorkersTests",
            dependencies: ["ChuteWorkers", "ChuteABI", "ChuteCore", "ChuteTestSupport"],
            swiftSettings: strictSwift),
        .testTarget(
            name: "ChuteHostTests",
            dependencies: [
                "ChuteHost", "ChuteWorkers", "ChuteCore", "ChuteTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: strictSwift),
    ]
)
