import EvaldCore
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The OTLP receiver's side of the spool: what it accepts is appended, with fsync, to a file
/// of its own (`otlp-<start time>.jsonl`, rotated at 256 MiB) before the client hears back,
/// so the spool reader is the one way into the store (the same sampling, crash safety and
/// quarantine as for the Collector's files).
///
/// Client retries count once: the keys (`traceId:spanId`) of the spans stored last (up to
/// `windowCapacity`) are remembered, and a span already among them is not written again. A
/// restarted receiver remembers them too: before it answers anything it reads the keys back
/// from its files written in the last `seedWindow` seconds, which the spool reader leaves in
/// place that long (it deletes a receiver file once read, not being written, and idle for
/// `spool.idle_after`). A request cut off mid-write by a crash was never answered: the keys of
/// its lines written whole are read back, its partial line is ended with a newline at the next
/// start (the reader quarantines it), and the client's retry stores the rest.
public final class OTLPReceiverSpool: Sendable {
    public static let rotateBytes: Int64 = 256 << 20
    public static let windowCapacity = 1 << 20
    /// Files last written this long ago or less are read back at start for their span keys.
    public static let seedWindow = 3600.0
    /// At most this many bytes of those files are read back (the newest).
    public static let seedBytes: Int64 = 512 << 20

    public struct Appended: Sendable, Equatable {
        /// Spans written (and fsynced).
        public var stored = 0
        /// Spans already stored earlier (a client's retry), or twice in the request.
        public var duplicates = 0
        /// Spans longer alone than a spool line may be.
        public var oversized = 0
        public var bytes: Int64 = 0
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { "\(path): \(message)" }
    }

    private struct State {
        var fd: Int32 = -1
        var path: String?
        var size: Int64 = 0
        var window: OTLPSpanKeyWindow
        /// Bytes appended since the spool reader last measured the unread bytes.
        var unmeasured: Int64 = 0
    }

    public let directory: String
    /// Lines are at most this long with their newline (`spool.max_line_bytes`).
    public let maxLineBytes: Int
    private let state: Mutex<State>
    private let now: @Sendable () -> Date

    /// Opens the receiver's spool, reading back the span keys of its recent files (ending a
    /// partial last line a crash left). Blocking: call it before the receiver listens.
    public init(directory: String, maxLineBytes: Int, now: @escaping @Sendable () -> Date = Date.init) throws(Failure) {
        self.directory = directory
        self.maxLineBytes = maxLineBytes
        self.now = now
        var window = OTLPSpanKeyWindow(capacity: Self.windowCapacity)
        try Self.seed(&window, directory: directory, since: now().addingTimeInterval(-Self.seedWindow))
        state = Mutex(State(window: window))
    }

    deinit {
        state.withLock { if $0.fd >= 0 { _ = close($0.fd) } }
    }

    /// `otlp-20261206T041500.123Z.jsonl`: the receiver's own files, which evald deletes once
    /// read whatever `spool.after_read` says. Strict, so that nobody else's file matches.
    public static func isReceiverFileName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.count == "otlp-20261206T041500.123Z.jsonl".utf8.count, name.hasPrefix("otlp-"), name.hasSuffix("Z.jsonl") else { return false }
        let digits = Array(bytes[5..<bytes.count - 7])  // 20261206T041500.123
        let isDigit = { (c: UInt8) in c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
        return digits.count == 19 && digits[8] == UInt8(ascii: "T") && digits[15] == UInt8(ascii: ".")
            && digits.enumerated().allSatisfy { index, c in index == 8 || index == 15 || isDigit(c) }
    }

    static func fileName(startedAt date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var time = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "otlp-%04d%02d%02dT%02d%02d%02d.%03dZ.jsonl", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(millis % 1000))
    }

    /// Whether the spool reader may delete `path` once it has read it: a receiver file this
    /// receiver no longer writes.
    public func deletesWhenRead(_ path: String) -> Bool {
        let name = (path as NSString).lastPathComponent
        guard Self.isReceiverFileName(name) else { return false }
        return state.withLock { $0.path.map { ($0 as NSString).lastPathComponent } != name }
    }

    /// Bytes appended since the reader's last measurement; `markMeasured` starts again at 0.
    public var unmeasuredBytes: Int64 { state.withLock { $0.unmeasured } }
    public func markMeasured() { state.withLock { $0.unmeasured = 0 } }

    /// Appends the spans of `batch` that are not stored yet, fsyncs, and remembers them.
    /// Blocking (write, fsync): call it off the cooperative pool. On failure the lines written
    /// whole are remembered too (the reader reads them), so the client's retry adds the rest.
    public func append(_ batch: OTLPExportBatch) throws(Failure) -> Appended {
        try state.withLock { s throws(Failure) -> Appended in
            let window = s.window
            let (lines, oversized) = batch.lines(lineLimit: maxLineBytes - 1) { !window.contains($0) }
            let stored = lines.reduce(0) { $0 + $1.keys.count }
            var appended = Appended(stored: stored, duplicates: batch.spanCount - stored - oversized, oversized: oversized)
            guard !lines.isEmpty else { return appended }
            var bytes: [UInt8] = []
            var ends: [Int] = []
            for line in lines {
                bytes.append(contentsOf: line.text.utf8)
                bytes.append(UInt8(ascii: "\n"))
                ends.append(bytes.count)
            }
            if s.fd >= 0, s.size > 0, s.size + Int64(bytes.count) > Self.rotateBytes {
                _ = close(s.fd)
                s.fd = -1
                s.path = nil
            }
            if s.fd < 0 { try open(&s) }
            let path = s.path ?? directory
            let written = bytes.withUnsafeBytes { Self.writeAll(s.fd, $0) }
            let synced = written == bytes.count && fsync(s.fd) == 0
            // The lines written whole are (or will be) read whatever the answer: remember their
            // spans, so that the client's retry stores only the rest.
            for (line, end) in zip(lines, ends) where end <= written {
                for key in line.keys { s.window.insert(key) }
            }
            s.size += Int64(written)
            s.unmeasured += Int64(written)
            guard synced else {
                let message = String(cString: strerror(errno))
                // Never write after a failed write (a partial line would join the next one):
                // the next request starts a new file; this one's tail is quarantined by the
                // reader once idle, or ended at the next start.
                _ = close(s.fd)
                s.fd = -1
                s.path = nil
                throw Failure(path: path, message: "cannot append (\(message))")
            }
            appended.bytes = Int64(bytes.count)
            return appended
        }
    }

    private func open(_ s: inout State) throws(Failure) {
        var start = now()
        for _ in 0..<1000 {
            let path = (directory as NSString).appendingPathComponent(Self.fileName(startedAt: start))
            let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
            if fd >= 0 {
                // The new name must survive a crash too, or an fsynced line could vanish with it.
                let dir = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if dir >= 0 {
                    _ = fsync(dir)
                    _ = close(dir)
                }
                s.fd = fd
                s.path = path
                s.size = 0
                return
            }
            guard errno == EEXIST else { throw Failure(path: path, message: "cannot create (\(String(cString: strerror(errno))))") }
            start = start.addingTimeInterval(0.001)
        }
        throw Failure(path: directory, message: "cannot find a free receiver file name")
    }

    private static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Int {
        var done = 0
        while done < buffer.count {
            let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                return done
            }
            done += n
        }
        return done
    }

    /// Reads back the keys of the receiver files written since `since`, after ending a partial
    /// last line in any receiver file (it was never answered).
    private static func seed(_ window: inout OTLPSpanKeyWindow, directory: String, since: Date) throws(Failure) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        // Newest first, up to `seedBytes`: a reader far behind may leave gigabytes of them.
        var recent: [String] = []
        var budget = seedBytes
        for name in names.filter(isReceiverFileName).sorted(by: >) {
            let path = (directory as NSString).appendingPathComponent(name)
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            try endPartialLine(path, size: Int64(info.st_size))
            guard budget > 0, Double(info.st_mtim.tv_sec) >= since.timeIntervalSince1970 else { continue }
            budget -= Int64(info.st_size)
            recent.append(path)
        }
        for path in recent.reversed() {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            var lineStart = data.startIndex
            while let newline = data[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
                defer { lineStart = newline + 1 }
                let line = data[lineStart..<newline]
                guard let value = try? line.withUnsafeBytes({ try JSONParser.parse($0) }) else { continue }
                for key in OTLPExportBatch.keys(ofLine: value) { window.insert(key) }
            }
        }
    }

    /// Ends a partial last line with a newline, so that the reader quarantines it at once
    /// (it is not JSON) and the file never shrinks under the reader's offset (cutting it off
    /// instead would make the reader read the whole file again after it had quarantined the
    /// tail).
    private static func endPartialLine(_ path: String, size: Int64) throws(Failure) {
        guard size > 0 else { return }
        let fd = Glibc.open(path, O_RDWR | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var last: UInt8 = 0
        guard pread(fd, &last, 1, off_t(size - 1)) == 1, last != UInt8(ascii: "\n") else { return }
        var newline = UInt8(ascii: "\n")
        guard write(fd, &newline, 1) == 1, fsync(fd) == 0 else {
            throw Failure(path: path, message: "cannot end the partial last line (\(String(cString: strerror(errno))))")
        }
    }
}
