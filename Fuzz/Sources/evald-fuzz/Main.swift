import CFuzzer
import Foundation

/// The target libFuzzer's callback runs: set once by `main`, before the driver starts.
nonisolated(unsafe) var selectedTarget: FuzzTarget = { _ in }

/// `evald-fuzz TARGET [libFuzzer options] [CORPUS...]`: one binary for every target, so the
/// sanitizer build links once.
@main
enum EvaldFuzz {
    static func main() {
        var arguments = CommandLine.arguments
        guard arguments.count >= 2, let target = FuzzTargets.all[arguments[1]] else {
            FileHandle.standardError.write(
                Data("usage: evald-fuzz TARGET [libFuzzer options] [CORPUS...]; targets: \(FuzzTargets.all.keys.sorted().joined(separator: " "))\n".utf8))
            exit(2)
        }
        selectedTarget = target
        arguments.remove(at: 1)
        var pointers: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var count = CInt(arguments.count)
        let status = pointers.withUnsafeMutableBufferPointer { buffer -> CInt in
            var argv = buffer.baseAddress
            return LLVMFuzzerRunDriver(&count, &argv) { data, size in
                selectedTarget(UnsafeRawBufferPointer(start: data, count: size))
                return 0
            }
        }
        exit(status)
    }
}
