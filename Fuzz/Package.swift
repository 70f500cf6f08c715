// swift-tools-version:6.0
import PackageDescription

// The fuzz targets: one libFuzzer binary over EvaldCore (and the one pure file of EvaldHTTP,
// RetryAfter.swift, linked in as a source), built with -sanitize=fuzzer,address by Fuzz/run.sh.
// Kept apart from the main package so its sanitizer build stays small and never slows `swift build`.
let package = Package(
    name: "evald-fuzz",
    dependencies: [.package(name: "evald", path: "..")],
    targets: [
        // libFuzzer's driver, called from our own main so that one binary holds every target.
        .target(name: "CFuzzer"),
        .target(name: "RetryAfterSource"),
        .executableTarget(
            name: "evald-fuzz",
            dependencies: [.product(name: "EvaldCore", package: "evald"), "CFuzzer", "RetryAfterSource"]),
    ]
)
