// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "evald",
    // Linux only: evald is a systemd daemon (sd_notify, Glibc, /proc); it is built and tested
    // on Debian with Swift 6.x.
    products: [
        .executable(name: "evald", targets: ["evald"]),
        // For Fuzz/ (its own package, built with -sanitize=fuzzer,address by Fuzz/run.sh).
        .library(name: "EvaldCore", targets: ["EvaldCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // The OTLP/HTTP receiver's protobuf encoding; the messages are generated once and
        // committed (Sources/EvaldOTLP/Generated/README.md), not by a build plugin.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // Pure core: models, sampling, config, decoding of records. No I/O, no clocks.
        .target(
            name: "EvaldCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                "CZlib", "CLibdeflate",
            ]),
        // The system zlib (raw deflate with a preset dictionary: the stored records).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // The system libdeflate (raw deflate without a dictionary, fast on short records: the
        // failed calls ingest stores).
        .systemLibrary(name: "CLibdeflate", path: "Sources/CLibdeflate", providers: [.apt(["libdeflate-dev"])]),
        // Outbound HTTP shared by the judge clients and the alert receivers: one client,
        // deadlines, connection pools; and the loading of secrets (keys, webhook URLs).
        .target(
            name: "EvaldHTTP",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        // Reference-model judge clients (OpenAI-compatible, Anthropic): retries, circuit
        // breaker, concurrency limit.
        .target(
            name: "EvaldJudge",
            dependencies: [
                "EvaldCore", "EvaldHTTP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]),
        // The SQLite state database: migrations and intent-named transactions.
        .target(
            name: "EvaldStore",
            dependencies: [
                "EvaldCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                // sqlite3_column_* on detection's hot read, where GRDB's generic row decoding costs
                // more than the query.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]),
        // OTLP/HTTP's protobuf messages (opentelemetry-proto, generated and committed) and their
        // conversion to the OTLP/JSON the spool holds.
        .target(
            name: "EvaldOTLP",
            dependencies: ["EvaldCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Generated/LICENSE", "Generated/README.md"]),
        // Spool discovery, tailing, rotation, line framing.
        .target(name: "EvaldSpool", dependencies: ["EvaldCore"]),
        // Alert receivers (Alertmanager, webhook, Slack, PagerDuty): payloads on the wire,
        // signing, delivery over the shared HTTP transport.
        .target(
            name: "EvaldAlerting",
            dependencies: [
                "EvaldCore", "EvaldHTTP",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // The read side: what `evald status`, `metrics`, `drift`, `alerts` and `explain` show,
        // and `/metrics` and `/api/v1/status` serve, assembled from the database.
        .target(name: "EvaldReports", dependencies: ["EvaldCore", "EvaldStore", "EvaldSpool"]),
        // The long-running services and their wiring.
        .target(
            name: "EvaldDaemon",
            dependencies: [
                "EvaldCore", "EvaldStore", "EvaldSpool", "EvaldHTTP", "EvaldJudge", "EvaldAlerting", "EvaldReports", "EvaldOTLP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]),
        .executableTarget(
            name: "evald",
            dependencies: [
                "EvaldCore", "EvaldStore", "EvaldDaemon", "EvaldHTTP", "EvaldReports",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Helpers shared by the test targets: a manual clock, seeded randomness, and a stub
        // HTTP server (judge APIs, webhook receivers) on 127.0.0.1 that can misbehave.
        .target(
            name: "EvaldTesting",
            dependencies: [
                "EvaldHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        // Benchmarks/run_checks_benchmark.sh: the cost of the checks per sampled trace.
        .executableTarget(name: "evald-checks-benchmark", dependencies: ["EvaldCore", "EvaldDaemon"], path: "Benchmarks/ChecksBenchmark"),
        // Benchmarks/: a stub judge API (fixed answer after --delay) for the judge benchmark.
        .executableTarget(name: "evald-judge-stub", dependencies: ["EvaldTesting"], path: "Benchmarks/JudgeStub"),
        // Benchmarks/run_detection_benchmark.sh: a seeded simulation of the detectors.
        .executableTarget(name: "evald-detection-benchmark", dependencies: ["EvaldCore", "EvaldTesting"], path: "Benchmarks/detection"),
        // Benchmarks/run_design_benchmark.sh: detector design time at targets up to 1e12 samples.
        .executableTarget(name: "evald-design-benchmark", dependencies: ["EvaldCore", "EvaldTesting"], path: "Benchmarks/DesignBenchmark"),
        // Benchmarks/pii/run_pii_benchmark.py: the PII detector over a corpus, next to Presidio.
        .executableTarget(name: "evald-pii-benchmark", dependencies: ["EvaldCore"], path: "Benchmarks/pii/PIIBenchmark"),
        .testTarget(name: "EvaldCoreTests", dependencies: ["EvaldCore", "EvaldTesting"], exclude: ["Fixtures"]),
        .testTarget(
            name: "EvaldJudgeTests",
            dependencies: [
                "EvaldJudge", "EvaldHTTP", "EvaldCore", "EvaldTesting",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]),
        .testTarget(
            name: "EvaldAlertingTests",
            dependencies: [
                "EvaldAlerting", "EvaldHTTP", "EvaldCore", "EvaldTesting",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(name: "EvaldStoreTests", dependencies: ["EvaldStore"]),
        .testTarget(name: "EvaldSpoolTests", dependencies: ["EvaldSpool", "EvaldCore", "EvaldStore", "EvaldTesting"]),
        .testTarget(
            name: "EvaldDaemonTests",
            dependencies: [
                "EvaldDaemon", "EvaldReports", "EvaldCore", "EvaldStore", "EvaldTesting", "EvaldHTTP",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "EvaldIntegrationTests",
            dependencies: [
                "EvaldCore", "EvaldStore", "EvaldTesting",
                .product(name: "Crypto", package: "swift-crypto"),
            ], exclude: ["Fixtures"]),
    ]
)
