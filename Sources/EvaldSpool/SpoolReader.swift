import EvaldCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Follows the files of the spool directory and turns their complete lines into committed
/// batches.
///
/// - Files are known by (device, inode) plus a fingerprint of their first line, and read
///   through an open descriptor, so a renamed (rotated) file is read to its end and a new
///   file at the old path is read from its start.
/// - A file that shrinks below its offset, or whose first line changed, was truncated and
///   rewritten: it is read again from 0 as a new file.
/// - Only complete lines are consumed. Each batch's evaluations, quarantined lines,
///   counters and the new offset are committed in one transaction.
/// - A line longer than `maxLineBytes` is never held in memory: its first 4 KiB are kept
///   for the quarantine and the rest is skipped up to its newline.
///
/// Not Sendable: the one task that polls it owns it.
public final class SpoolReader {
    public struct Settings: Sendable {
        public var directory: String
        public var maxLineBytes: Int
        public var idleAfter: Double
        public var afterRead: SpoolConfig.AfterRead
        /// Files deleted once read and idle whatever `afterRead` says: the OTLP receiver's own
        /// (`OTLPReceiverSpool.deletesWhenRead`).
        public var deletesWhenRead: @Sendable (String) -> Bool = { _ in false }
        /// Commit at least every this many bytes consumed.
        public var batchBytes: Int = 8 << 20
        /// Commit at least every this many sampled records.
        public var batchSampled: Int = 512
        /// `storage.redact`: PII in records and quarantine excerpts is replaced before they are stored.
        public var redact = false

        public init(directory: String, maxLineBytes: Int, idleAfter: Double, afterRead: SpoolConfig.AfterRead) {
            self.directory = directory
            self.maxLineBytes = maxLineBytes
            self.idleAfter = idleAfter
            self.afterRead = afterRead
        }

        public init(_ config: SpoolConfig, redact: Bool = false) {
            self.init(directory: config.dir, maxLineBytes: config.maxLineBytes, idleAfter: config.idleAfter, afterRead: config.afterRead)
            self.redact = redact
        }
    }

    private struct OversizedLine {
        var start: Int64
        var scannedTo: Int64
        var excerpt: [UInt8]
    }

    private final class FollowedFile {
        var tracked: TrackedSpoolFile
        var fd: Int32 = -1
        var lastSize: Int64 = -1
        var lastGrowthAt: Date
        var oversized: OversizedLine?
        /// Polls in a row in which the file was not in the directory listing.
        var missingPolls = 0

        init(tracked: TrackedSpoolFile, now: Date) {
            self.tracked = tracked
            self.lastGrowthAt = now
        }

        var key: FileKey { FileKey(device: tracked.device, inode: tracked.inode) }

        func close() {
            if fd >= 0 { _ = Glibc.close(fd) }
            fd = -1
        }
    }

    private struct FileKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    public private(set) var settings: Settings
    /// Time spent in the checks since the reader was made (the benchmarks' ingest breakdown).
    public private(set) var checkTime: Duration = .zero
    private let store: any SpoolCheckpointStore
    private var classifier: LineClassifier
    private var checks: CheckPlan
    private var judges: JudgeRouting
    private var usage: UsageConfig
    private let now: @Sendable () -> Date
    private let onEvent: (SpoolEvent) -> Void
    private var files: [Int64: FollowedFile]?
    /// Paths that could not be read (the spool directory itself, or files in it), with why:
    /// those of the last poll, reported once each, and those of the poll under way.
    private var unreadable: [String: String] = [:]
    private var unreadableThisPoll: [String: String] = [:]
    /// What a failed poll had committed before it failed (bytes, counts, check verdicts, usage):
    /// reported by the next poll that works, so the counters fed from the summaries miss no
    /// committed line.
    private var committedBeforeFailure = SpoolPollSummary()
    /// What each read fills (an Array, so the threads of `processInParallel` may share it).
    private var buffer: [UInt8]
    /// The other buffer: while the workers process one chunk, the next is read into it
    /// (`SpoolLineProcessor.startInParallel`). Empty until the first long read.
    private var spareBuffer: [UInt8] = []
    /// Where batches are committed while the next ones are read (`PendingCommit`).
    private let commits: CommitLane
    /// Batches queued for commit at most, besides the one being read: two, so a commit slowed
    /// by a checkpoint (its fsyncs) does not stop the reading.
    static let maxCommitsInFlight = 2
    /// The threads long reads are processed on, made at the first one (a daemon that only ever
    /// reads a few lines a poll never starts them).
    private var workers: IngestWorkers?
    /// What one read takes at most (less when `max_line_bytes` is smaller; the buffer grows
    /// past it only for a line longer than it, up to `max_line_bytes`): big enough that its
    /// lines are shared out among the cores (`SpoolLineProcessor.processInParallel`) a few
    /// times per batch, not hundreds.
    private static let initialBufferSize = 4 << 20

    public init(
        settings: Settings, store: any SpoolCheckpointStore, classifier: LineClassifier, checks: CheckPlan = .empty,
        judges: JudgeRouting = .none, usage: UsageConfig = UsageConfig(), now: @escaping @Sendable () -> Date = Date.init,
        onEvent: @escaping (SpoolEvent) -> Void = { _ in }
    ) {
        self.settings = settings
        self.store = store
        self.commits = CommitLane(store: store)
        self.classifier = classifier
        self.checks = checks
        self.judges = judges
        self.usage = usage
        self.now = now
        self.onEvent = onEvent
        self.buffer = [UInt8](repeating: 0, count: min(Self.initialBufferSize, settings.maxLineBytes + 1))
    }

    deinit {
        closeAll()
    }

    /// Applies a reloaded configuration; offsets and open files are kept.
    public func update(settings: Settings, classifier: LineClassifier, checks: CheckPlan, judges: JudgeRouting, usage: UsageConfig) {
        if settings.directory != self.settings.directory { closeAll() }
        self.settings = settings
        self.classifier = classifier
        self.checks = checks
        self.judges = judges
        self.usage = usage
    }

    /// Applies new sampling rates (raised or lowered by detection) between polls.
    public func update(classifier: LineClassifier) {
        self.classifier = classifier
    }

    /// Closes every descriptor and forgets the in-memory state; the next poll reloads it from the store.
    public func closeAll() {
        files?.values.forEach { $0.close() }
        files = nil
    }

    /// Reads everything that is complete in the spool now. `shouldStop` is checked between
    /// batches, so a stop never leaves a half-committed batch.
    public func poll(shouldStop: () -> Bool = { false }) throws -> SpoolPollSummary {
        var summary = SpoolPollSummary()
        summary.addCommitted(committedBeforeFailure)
        committedBeforeFailure = SpoolPollSummary()
        unreadableThisPoll = [:]
        do {
            try pollFiles(&summary, shouldStop: shouldStop)
        } catch {
            // The database and the in-memory view may now differ: start again from the database.
            closeAll()
            committedBeforeFailure.addCommitted(summary)
            throw error
        }
        reportUnreadable(&summary)
        return summary
    }

    /// A path that cannot be read is reported when it becomes unreadable and when it can be
    /// read again, not at every poll (a poll runs every `poll_interval`).
    private func noteUnreadable(_ path: String, _ message: String) {
        unreadableThisPoll[path] = message
    }

    private func reportUnreadable(_ summary: inout SpoolPollSummary) {
        // A poll stopped early did not try every file: keep what it did not see.
        let stoppedEarly = !summary.caughtUp
        for (path, message) in unreadableThisPoll.sorted(by: { $0.key < $1.key }) where unreadable[path] != message {
            onEvent(.unreadable(path: path, message: message))
        }
        for path in unreadable.keys.sorted() where unreadableThisPoll[path] == nil {
            if stoppedEarly, path != settings.directory { unreadableThisPoll[path] = unreadable[path] } else { onEvent(.readable(path: path)) }
        }
        unreadable = unreadableThisPoll
        summary.directoryError = unreadable[settings.directory]
        summary.unreadableFiles = unreadable.keys.filter { $0 != settings.directory }.sorted()
    }

    private func pollFiles(_ summary: inout SpoolPollSummary, shouldStop: () -> Bool) throws {
        if files == nil {
            files = Dictionary(uniqueKeysWithValues: try store.trackedSpoolFiles().map { ($0.id, FollowedFile(tracked: $0, now: now())) })
        }
        let entries: [SpoolDirectoryEntry]
        do {
            entries = try SpoolDirectory.list(settings.directory)
        } catch {
            noteUnreadable(settings.directory, error.message)
            summary.caughtUp = true
            return
        }
        var inDirectory: [FileKey: SpoolDirectoryEntry] = [:]
        for entry in entries { inDirectory[FileKey(device: entry.device, inode: entry.inode)] = entry }

        for file in files!.values.sorted(by: { $0.tracked.id < $1.tracked.id }) {
            if shouldStop() { summary.caughtUp = false; return }
            try follow(file, entry: inDirectory[file.key], summary: &summary, shouldStop: shouldStop)
        }

        defer {
            // The lag: what the listing saw minus what is committed, for every file in it.
            let offsets = Dictionary(files?.values.map { ($0.key, $0.tracked.offset) } ?? [], uniquingKeysWith: { max($0, $1) })
            summary.files = inDirectory.count
            summary.pendingBytes = inDirectory.reduce(0) { total, element in
                total + max(0, element.value.size - (offsets[element.key] ?? 0))
            }
        }
        var followed = Set(files!.values.map(\.key))
        for entry in entries where !followed.contains(FileKey(device: entry.device, inode: entry.inode)) {
            if shouldStop() { summary.caughtUp = false; return }
            guard let file = try startFollowing(entry) else { continue }
            followed.insert(file.key)
            try follow(file, entry: entry, summary: &summary, shouldStop: shouldStop)
        }
    }

    /// Opens a file not yet followed; nil while its first line is incomplete.
    private func startFollowing(_ entry: SpoolDirectoryEntry) throws -> FollowedFile? {
        let fd = open(entry.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            noteUnreadable(entry.path, String(cString: strerror(errno)))
            return nil
        }
        var info = stat()
        guard fstat(fd, &info) == 0, UInt64(info.st_ino) == entry.inode, UInt64(info.st_dev) == entry.device,
            let fingerprint = SpoolFingerprint.read(fd: fd)
        else {
            _ = Glibc.close(fd)
            return nil
        }
        let tracked = try store.trackSpoolFile(path: entry.path, device: entry.device, inode: entry.inode, fingerprint: fingerprint, at: now())
        let file = FollowedFile(tracked: tracked, now: now())
        file.fd = fd
        files![tracked.id] = file
        onEvent(.tracking(path: entry.path))
        return file
    }

    private func retire(_ file: FollowedFile, _ reason: SpoolFileRetirement) throws {
        try store.retireSpoolFile(id: file.tracked.id, because: reason, at: now())
        file.close()
        files![file.tracked.id] = nil
    }

    private func follow(_ file: FollowedFile, entry: SpoolDirectoryEntry?, summary: inout SpoolPollSummary, shouldStop: () -> Bool) throws {
        file.missingPolls = entry == nil ? file.missingPolls + 1 : 0
        var reopened = false
        if file.fd < 0 {
            // Known from the database but not opened yet (after a restart): it must still be in
            // the directory. A file renamed between readdir and stat is missing from one listing,
            // so only a file missing twice in a row is given up.
            guard let entry else {
                if file.missingPolls >= 2 {
                    try retire(file, .gone)
                    onEvent(.gone(path: file.tracked.path, unreadBytes: -1))
                }
                return
            }
            if file.lastSize == entry.size, entry.size == file.tracked.offset {
                // Closed while idle and unchanged since: nothing to do, but delete it once idle
                // when it is to be deleted (a file closed at a restart was not idle yet).
                if entry.path != file.tracked.path {
                    try store.renameSpoolFile(id: file.tracked.id, to: entry.path)
                    file.tracked.path = entry.path
                }
                if deletesWhenRead(file), now().timeIntervalSince(file.lastGrowthAt) >= settings.idleAfter { try delete(file) }
                return
            }
            file.lastSize = -1  // reopened: check its fingerprint again
            reopened = true
            let fd = open(entry.path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                noteUnreadable(entry.path, String(cString: strerror(errno)))
                return
            }
            file.fd = fd
        }
        var info = stat()
        guard fstat(file.fd, &info) == 0 else {
            noteUnreadable(file.tracked.path, String(cString: strerror(errno)))
            return
        }
        let size = Int64(info.st_size)
        if size < file.tracked.offset || (size != file.lastSize && SpoolFingerprint.read(fd: file.fd) != file.tracked.fingerprint) {
            // Truncated (collector restart with append: false) or rewritten in place: the
            // next directory scan follows it again from 0 as a new file.
            let reason: SpoolFileRetirement = size < file.tracked.offset ? .truncated : .replaced
            try retire(file, reason)
            onEvent(
                reason == .truncated
                    ? .truncated(path: file.tracked.path, offset: file.tracked.offset, size: size)
                    : .replaced(path: file.tracked.path))
            if let entry, !shouldStop(), let again = try startFollowing(entry) {
                try follow(again, entry: entry, summary: &summary, shouldStop: shouldStop)
            }
            return
        }
        if let entry, entry.path != file.tracked.path {
            try store.renameSpoolFile(id: file.tracked.id, to: entry.path)
            onEvent(.renamed(from: file.tracked.path, to: entry.path))
            file.tracked.path = entry.path
        }
        let clock = now()
        if size != file.lastSize {
            file.lastSize = size
            file.lastGrowthAt = clock
        }
        if file.tracked.offset < size {
            let caughtUp = try readAvailable(file, summary: &summary, shouldStop: shouldStop)
            summary.caughtUp = summary.caughtUp && caughtUp
            guard caughtUp else { return }
        }
        let idle = clock.timeIntervalSince(file.lastGrowthAt) >= settings.idleAfter
        // Not in the listing: deleted (no links left), or moved out of the spool directory and
        // idle since. Missing from one listing alone proves nothing: a rename races readdir.
        if entry == nil, info.st_nlink == 0 || (idle && file.missingPolls >= 2) {
            // It was read to its end above; nothing more will come.
            try quarantineTail(of: file, size: size)
            try retire(file, .gone)
            onEvent(.gone(path: file.tracked.path, unreadBytes: 0))
        } else if entry == nil {
            return
        } else if idle, file.tracked.offset < size {
            // A writer never leaves half a line for this long: it died mid-write.
            try quarantineTail(of: file, size: size)
        } else if idle, deletesWhenRead(file), file.tracked.offset == size {
            try delete(file)
        } else if idle || reopened, file.tracked.offset == size {
            // Finished for now (or, after a restart, nothing new): free the descriptor, since a
            // spool may hold thousands of old files; the directory listing shows when it grows.
            file.close()
        }
    }

    private func deletesWhenRead(_ file: FollowedFile) -> Bool {
        settings.afterRead == .delete || settings.deletesWhenRead(file.tracked.path)
    }

    /// Deletes a file read to its end, by path only while the path still names this very file.
    private func delete(_ file: FollowedFile) throws {
        var current = stat()
        guard stat(file.tracked.path, &current) == 0, UInt64(current.st_dev) == file.tracked.device,
            UInt64(current.st_ino) == file.tracked.inode
        else { return }
        if unlink(file.tracked.path) == 0 {
            onEvent(.deleted(path: file.tracked.path))
            try retire(file, .gone)
        } else {
            onEvent(.unreadable(path: file.tracked.path, message: "cannot delete after reading (\(String(cString: strerror(errno))))"))
        }
    }

    /// Quarantines the incomplete last line of a file that will not grow any more.
    private func quarantineTail(of file: FollowedFile, size: Int64) throws {
        let start = file.oversized?.start ?? file.tracked.offset
        guard start < size else { return }
        var batch = IngestBatch(fileID: file.tracked.id, startOffset: file.tracked.offset, newOffset: size, committedAt: now())
        let excerpt = file.oversized?.excerpt ?? readExcerpt(file.fd, at: start, count: Int(min(size - start, Int64(QuarantinedLine.excerptLimit))))
        let problem = LineProblem(
            .incompleteLine, "the file ended without a newline after \(size - start) bytes and stopped growing; the writer was probably interrupted mid-line")
        batch.quarantined.append(
            QuarantinedLine(
                filePath: file.tracked.path, lineOffset: start, lineBytes: size - start, problem: problem,
                excerpt: settings.redact ? StoredRedaction.excerpt(excerpt) : excerpt))
        batch.counts.linesRead = 1
        batch.counts.malformed = 1
        try store.commitBatch(batch)
        file.tracked.offset = size
        file.oversized = nil
        onEvent(.quarantined(path: file.tracked.path, offset: start, reason: problem.reason, detail: problem.detail))
    }

    private func readExcerpt(_ fd: Int32, at offset: Int64, count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        return Array(bytes.prefix(max(0, read)))
    }

    private func growBuffer(to size: Int) {
        buffer = [UInt8](repeating: 0, count: size)
    }

    /// Fills the buffer from `offset` of the file, `shared` among the workers when they are
    /// idle and it is long; the count read, or -1 with errno set.
    private func readBuffer(_ file: FollowedFile, at offset: Int64, shared: Bool = false) -> Int {
        guard shared, let workers, buffer.count >= Self.parallelReadMinimumBytes else {
            return buffer.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, $0.count, off_t(offset)) }
        }
        return buffer.withUnsafeMutableBytes { workers.read(file.fd, into: $0, at: offset) }
    }

    /// Reads at least this long are shared among the workers (`IngestWorkers.read`).
    private static let parallelReadMinimumBytes = 1 << 20

    /// Reads and commits every complete line after the file's offset. Returns false when
    /// stopped early.
    ///
    /// A batch's transaction runs on `commits` while the next ones are read and processed;
    /// a batch's effects on the reader (the file's offset, the summary, the events) follow only
    /// when its commit has ended, and nothing is left in flight when this returns or throws.
    private func readAvailable(_ file: FollowedFile, summary: inout SpoolPollSummary, shouldStop: () -> Bool) throws -> Bool {
        let processor = lineProcessor
        var batch = processor.emptyBatch(fileID: file.tracked.id, startOffset: file.tracked.offset, committedAt: now())
        var batchBytes = 0
        var position = file.tracked.offset
        var inFlight: [PendingCommit] = []

        /// Waits for the oldest commit in flight and applies its effects.
        func finishOldest() throws {
            let pending = inFlight.removeFirst()
            do {
                try pending.wait()
            } catch {
                // The later ones start past offsets this one did not commit: the store refuses
                // them. Wait for them all, so nothing is in flight when this throws.
                for later in inFlight { try? later.wait() }
                inFlight = []
                throw error
            }
            let committed = pending.batch
            summary.bytesRead += committed.newOffset - committed.startOffset
            summary.counts += committed.counts
            for line in committed.sampled { summary.checks.add(route: line.record.route, model: line.record.model, results: line.checkResults) }
            summary.usage.add(committed.usage)
            for line in committed.quarantined {
                onEvent(.quarantined(path: line.filePath, offset: line.lineOffset, reason: line.reason, detail: line.detail))
            }
            file.tracked.offset = committed.newOffset
        }

        func finishInFlight() throws {
            while !inFlight.isEmpty { try finishOldest() }
        }

        /// The chunk the workers are processing while the next one is read, with where it
        /// ends: its lines join the batch when it is finished, in read order.
        var running: (run: SpoolLineProcessor.ParallelRun, end: Int64)?

        func finishRunning() {
            guard let (run, end) = running else { return }
            running = nil
            batchBytes += Int(end - batch.newOffset)
            checkTime += run.finish(into: &batch)
            batch.newOffset = end
        }

        /// Queues the batch for commit (after the oldest in flight has ended, when the queue is
        /// full) and begins the next.
        func commit() throws {
            if inFlight.count >= Self.maxCommitsInFlight { try finishOldest() }
            guard batch.newOffset != batch.startOffset || !batch.quarantined.isEmpty else { return }
            batch.committedAt = now()
            if settings.redact {
                for index in batch.quarantined.indices { batch.quarantined[index].detail = StoredRedaction.text(batch.quarantined[index].detail) }
            }
            inFlight.append(commits.commit(batch))
            batch = processor.emptyBatch(fileID: file.tracked.id, startOffset: batch.newOffset, committedAt: now())
            batchBytes = 0
        }

        do {
            while true {
                if batchBytes >= settings.batchBytes || batch.sampled.count >= settings.batchSampled {
                    try commit()
                    if shouldStop() {
                        finishRunning()
                        try commit()
                        try finishInFlight()
                        return false
                    }
                }
                if var oversized = file.oversized {
                    finishRunning()
                    // Skip the rest of an over-long line up to its newline.
                    let count = readBuffer(file, at: oversized.scannedTo)
                    guard count > 0 else { break }
                    if let newline = buffer[..<count].firstIndex(of: 0x0A) {
                        let end = oversized.scannedTo + Int64(newline) + 1
                        let problem = LineProblem(
                            .lineTooLong, "line of \(end - oversized.start) bytes is longer than spool.max_line_bytes (\(settings.maxLineBytes))")
                        batch.quarantined.append(
                            QuarantinedLine(
                                filePath: file.tracked.path, lineOffset: oversized.start, lineBytes: end - oversized.start, problem: problem,
                                excerpt: settings.redact ? StoredRedaction.excerpt(oversized.excerpt) : oversized.excerpt))
                        batch.counts.linesRead += 1
                        batch.counts.malformed += 1
                        batch.newOffset = end
                        position = end
                        file.oversized = nil
                        try commit()
                        continue
                    }
                    oversized.scannedTo += Int64(count)
                    file.oversized = oversized
                    if count < buffer.count { break }
                    continue
                }
                // While a chunk is processed, the next is read on this thread (the workers are
                // busy with it); otherwise the workers share the read.
                let count = readBuffer(file, at: position, shared: running == nil)
                if count < 0 {
                    noteUnreadable(file.tracked.path, String(cString: strerror(errno)))
                    break
                }
                guard count > 0 else { break }
                guard let lastNewline = buffer[..<count].lastIndex(of: 0x0A) else {
                    finishRunning()
                    if count < buffer.count { break }  // a partial last line: wait for its end
                    if buffer.count < settings.maxLineBytes + 1 {
                        growBuffer(to: min(buffer.count * 4, settings.maxLineBytes + 1))
                        continue
                    }
                    let excerpt = Array(buffer[..<min(count, QuarantinedLine.excerptLimit)])
                    file.oversized = OversizedLine(start: position, scannedTo: position + Int64(count), excerpt: excerpt)
                    continue
                }
                let consumed = lastNewline + 1
                if workers == nil, SpoolLineProcessor.parallelWidth > 1, consumed >= SpoolLineProcessor.parallelMinimumBytes {
                    workers = IngestWorkers(width: SpoolLineProcessor.parallelWidth)
                }
                if let run = processor.startInParallel(
                    buffer, count: consumed, at: position, filePath: file.tracked.path, fileID: batch.fileID, committedAt: batch.committedAt,
                    workers: workers)
                {
                    // The previous chunk joins the batch while this one is processed; the next
                    // read goes to the other buffer (this one is the run's until it ends).
                    finishRunning()
                    running = (run, position + Int64(consumed))
                    swap(&buffer, &spareBuffer)
                    if buffer.count != spareBuffer.count { buffer = [UInt8](repeating: 0, count: spareBuffer.count) }
                } else {
                    finishRunning()
                    checkTime += processor.processInParallel(
                        buffer, count: consumed, at: position, filePath: file.tracked.path, into: &batch, workers: workers)
                    batchBytes += consumed
                    batch.newOffset = position + Int64(consumed)
                }
                position += Int64(consumed)
            }
            finishRunning()
            try commit()
            try finishInFlight()
        } catch {
            // What is in flight may have committed: its effects count (the summary of a failed
            // poll keeps what was committed before the failure). A chunk still being processed
            // is waited for and dropped: its lines are read again from the committed offset.
            running?.run.abandon()
            try? finishInFlight()
            throw error
        }
        return true
    }

    /// What turns lines into a batch, with the settings of the moment.
    private var lineProcessor: SpoolLineProcessor {
        SpoolLineProcessor(
            classifier: classifier, checks: checks, judges: judges, usage: usage, maxLineBytes: settings.maxLineBytes, redact: settings.redact)
    }

}
