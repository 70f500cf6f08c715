// swift-tools-version:6.0
import PackageDescription

// The fuzz targets: one libFuzzer binary over EvaldCore, plus the two pure files evald's other
// modules hold (EvaldHTTP's RetryAfter.swift, EvaldOTLP's protobuf decoder with its generated
// messages), linked in as sources. Built with -sanitize=fuzzer,address by Fuzz/run.sh. Kept
// apart from the main package so its sanitizer build stays small and never slows `swift build`.
let package = Package(
    name: "evald-fuzz",
    dependencies: [
        .package(name: "evald", path: ".."),
        // The version the main package asks for (its Package.swift).
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // The executable's entry: hands over to libFuzzer's driver (see CFuzzer.c).
        .target(name: "CFuzzer"),
        .target(name: "RetryAfterSource"),
        .target(
            name: "OTLPProtobufSource",
            dependencies: [
                .product(name: "EvaldCore", package: "evald"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]),
        .executableTarget(
            name: "evald-fuzz",
            dependencies: [
                .product(name: "EvaldCore", package: "evald"), "CFuzzer", "RetryAfterSource",
                "OTLPProtobufSource",
            ]),
    ]
)
