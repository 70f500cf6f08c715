import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One candidate file in the spool directory.
public struct SpoolDirectoryEntry: Sendable, Equatable {
    public var path: String
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
}

public struct SpoolIOError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

/// Lists the files evald reads: regular files whose names end in `.jsonl`, `.ndjson` or `.json`.
public enum SpoolDirectory {
    public static let suffixes = [".jsonl", ".ndjson", ".json"]

    public static func isSpoolFileName(_ name: String) -> Bool {
        suffixes.contains { name.hasSuffix($0) && name.count > $0.count }
    }

    public static func list(_ directory: String) throws(SpoolIOError) -> [SpoolDirectoryEntry] {
        guard let dir = opendir(directory) else {
            throw SpoolIOError(
                path: directory, message: "cannot open the spool directory (\(String(cString: strerror(errno)))); check spool.dir and its permissions")
        }
        defer { closedir(dir) }
        var entries: [SpoolDirectoryEntry] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            guard isSpoolFileName(name) else { continue }
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var info = stat()
            // stat, not lstat: a symlink to a spool file is read like the file.
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            entries.append(SpoolDirectoryEntry(path: path, device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size)))
        }
        // One file under two names (a hard link, a symlink, a rename racing readdir) is one file.
        var seen = Set<String>()
        return entries.sorted { $0.path < $1.path }.filter { seen.insert("\($0.device):\($0.inode)").inserted }
    }
}
