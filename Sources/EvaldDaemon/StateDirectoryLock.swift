import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive lock on `state_dir` held for the life of `evald run`: two writers on one
/// database would read the same files and count their lines twice.
public final class StateDirectoryLock {
    public struct Held: Error, CustomStringConvertible {
        public var stateDir: String
        public var holder: String
        public var description: String {
            "another evald (\(holder)) is already using state_dir \(stateDir); stop it first, or give this one its own state_dir"
        }
    }

    private let fd: Int32

    /// Takes the lock or throws `Held`; the lock is released when the process exits, however it exits.
    public init(stateDir: String) throws {
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        let path = (stateDir as NSString).appendingPathComponent("evald.lock")
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = pread(fd, &buffer, 64, 0)
            let pid = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw Held(stateDir: stateDir, holder: pid.isEmpty ? "pid unknown" : "pid \(pid)")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit { close(fd) }
}
