import CFuzzer
import Foundation

/// The target libFuzzer's callback runs: set once by `LLVMFuzzerInitialize`, before the first
/// input, and only read afterwards (libFuzzer calls back from one thread).
nonisolated(unsafe) private var selectedTarget: FuzzTarget?

/// `EVALD_FUZZ_TARGET=TARGET evald-fuzz [libFuzzer options] [CORPUS...]`: one binary for every
/// target, so the sanitizer build links once. The target comes from the environment, not from
/// argv, so that libFuzzer's own child processes (`-fork`, `-jobs`, `-minimize_crash`) inherit
/// it without any argv rewriting.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    let name = ProcessInfo.processInfo.environment["EVALD_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTargets.all[name] else {
        let names = FuzzTargets.all.keys.sorted().joined(separator: " ")
        FileHandle.standardError.write(
            Data(
                """
                evald-fuzz: set EVALD_FUZZ_TARGET to one of: \(names) (got "\(name)")

                """.utf8))
        exit(2)
    }
    selectedTarget = target
    return 0
}

/// libFuzzer's callback: one input to the selected target. Always 0 (keep the input if it
/// found new coverage); a finding is the process dying or stalling, never a return value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selectedTarget?(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
