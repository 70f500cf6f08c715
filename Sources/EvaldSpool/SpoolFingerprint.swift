import EvaldCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file's identity beyond its inode: a hash of its first line, at most its first 1 KiB
/// (the rule Vector's and Filebeat's file readers use). A file whose first line is not yet
/// complete has no fingerprint; it has nothing to read yet either.
enum SpoolFingerprint {
    static let limit = 1024

    static func read(fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: limit)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, limit, 0) }
        guard count > 0 else { return nil }
        let bytes = buffer[0..<count]
        let length: Int
        if let newline = bytes.firstIndex(of: 0x0A) {
            length = newline + 1
        } else if count == limit {
            length = limit
        } else {
            return nil
        }
        let hash = buffer.withUnsafeBytes { TraceSampler.fnv1a64(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
        return String(hash, radix: 16) + "-\(length)"
    }
}
