import Foundation

/// A spool file the reader follows, as the state database knows it.
public struct TrackedSpoolFile: Sendable, Equatable {
    public var id: Int64
    public var path: String
    public var device: UInt64
    public var inode: UInt64
    /// Hash of the file's first line (at most its first 1 KiB): tells a reused inode from the old file.
    public var fingerprint: String
    /// Byte offset up to which every line has been consumed and committed.
    public var offset: Int64

    public init(id: Int64, path: String, device: UInt64, inode: UInt64, fingerprint: String, offset: Int64) {
        self.id = id
        self.path = path
        self.device = device
        self.inode = inode
        self.fingerprint = fingerprint
        self.offset = offset
    }
}

/// Why the reader stops following a file.
public enum SpoolFileRetirement: String, Sendable {
    /// Removed from the spool directory and read to its end.
    case gone
    /// Shrank below its offset: the writer truncated it; it is read again from 0 as a new file.
    case truncated
    /// Its inode now holds a different file (new fingerprint).
    case replaced
}

/// A sampled line on its way to the store.
public struct SampledLine: Sendable {
    public var record: TraceRecord
    public var sampleRate: Double
    public var lineOffset: Int64
    /// Position of the record within its line (OTLP lines hold many spans; native lines one).
    public var indexInLine: Int
    /// The record as native JSON, kept for the checks, the judge and `evald explain`.
    public var recordJSON: String
    /// The deterministic checks' verdicts, stored with the evaluation.
    public var checkResults: [CheckResult] = []
    /// The judges that will grade it: queued with the evaluation.
    public var judgeNames: [String] = []

    public init(record: TraceRecord, sampleRate: Double, lineOffset: Int64, indexInLine: Int = 0, recordJSON: String) {
        self.record = record
        self.sampleRate = sampleRate
        self.lineOffset = lineOffset
        self.indexInLine = indexInLine
        self.recordJSON = recordJSON
    }
}

/// A call that failed (`status: error`) outside the sample, kept whole for `evald traces`. Its
/// record JSON is deflated where its line is processed, on the reading threads, so the commit
/// (one writer, in series) only inserts bytes.
public struct FailedCall: Sendable {
    public var record: TraceRecord
    public var lineOffset: Int64
    /// Position of the record within its line (OTLP lines hold many spans; native lines one).
    public var indexInLine: Int
    /// The record as native JSON, raw-deflated without a dictionary (`RecordDeflater`).
    public var compressedRecord: [UInt8]

    public init(record: TraceRecord, lineOffset: Int64, indexInLine: Int = 0, compressedRecord: [UInt8]) {
        self.record = record
        self.lineOffset = lineOffset
        self.indexInLine = indexInLine
        self.compressedRecord = compressedRecord
    }
}

/// A line that could not be used, kept with what is needed to find and fix it.
public struct QuarantinedLine: Sendable, Equatable {
    /// How much of a quarantined line is kept (its first 4 KiB).
    public static let excerptLimit = 4096

    public var filePath: String
    public var lineOffset: Int64
    public var lineBytes: Int64
    public var reason: QuarantineReason
    public var detail: String
    public var excerpt: [UInt8]

    public init(filePath: String, lineOffset: Int64, lineBytes: Int64, problem: LineProblem, excerpt: [UInt8]) {
        self.filePath = filePath
        self.lineOffset = lineOffset
        self.lineBytes = lineBytes
        self.reason = problem.reason
        self.detail = problem.detail
        self.excerpt = Array(excerpt.prefix(Self.excerptLimit))
    }
}

public struct IngestCounts: Sendable, Equatable {
    public var linesRead: Int64 = 0
    public var records: Int64 = 0
    public var malformed: Int64 = 0
    public var sampled: Int64 = 0
    public var skippedSpans: Int64 = 0
    public var blankLines: Int64 = 0
    /// Check verdicts that failed (reported as a metric; not a stored counter).
    public var failedChecks: Int64 = 0

    public init() {}

    public static func += (lhs: inout IngestCounts, rhs: IngestCounts) {
        lhs.linesRead += rhs.linesRead
        lhs.records += rhs.records
        lhs.malformed += rhs.malformed
        lhs.sampled += rhs.sampled
        lhs.skippedSpans += rhs.skippedSpans
        lhs.blankLines += rhs.blankLines
        lhs.failedChecks += rhs.failedChecks
    }
}

/// Everything derived from one run of bytes of one file, committed atomically with the
/// file's new offset: this is what makes a crash lose no trace and count none twice.
public struct IngestBatch: Sendable {
    public var fileID: Int64
    /// The committed offset the batch's bytes start at; the store refuses a batch that does
    /// not continue exactly where the file's committed offset stands.
    public var startOffset: Int64
    public var newOffset: Int64
    public var sampled: [SampledLine] = []
    /// Calls that failed (`status: error`) outside the sample: stored for `evald traces`, not evaluated.
    public var failedOutsideSample: [FailedCall] = []
    public var quarantined: [QuarantinedLine] = []
    /// Feedback from every line of the run, sampled or not.
    public var feedback = FeedbackBatch()
    public var counts = IngestCounts()
    /// What every call of the batch, sampled or not, adds to usage.
    public var usage: UsageBatch
    public var committedAt: Date

    public init(fileID: Int64, startOffset: Int64, newOffset: Int64, committedAt: Date, usage: UsageBatch = UsageBatch()) {
        self.fileID = fileID
        self.startOffset = startOffset
        self.newOffset = newOffset
        self.committedAt = committedAt
        self.usage = usage
    }
}

extension IngestBatch {
    /// Adds what another batch took from the bytes that follow this one's in the same file:
    /// the parts of a run processed on several threads become one batch, as if read on one.
    public mutating func append(_ other: IngestBatch) {
        precondition(other.fileID == fileID && other.startOffset == newOffset, "batches of one file are appended in read order")
        newOffset = other.newOffset
        sampled.append(contentsOf: other.sampled)
        failedOutsideSample.append(contentsOf: other.failedOutsideSample)
        quarantined.append(contentsOf: other.quarantined)
        feedback.append(other.feedback)
        counts += other.counts
        usage.append(other.usage)
    }
}

/// What the spool reader needs from the state database. Defined here so the spool module
/// and the store do not depend on each other.
public protocol SpoolCheckpointStore: Sendable {
    func trackedSpoolFiles() throws -> [TrackedSpoolFile]
    func trackSpoolFile(path: String, device: UInt64, inode: UInt64, fingerprint: String, at: Date) throws -> TrackedSpoolFile
    func renameSpoolFile(id: Int64, to path: String) throws
    func retireSpoolFile(id: Int64, because: SpoolFileRetirement, at: Date) throws
    func commitBatch(_ batch: IngestBatch) throws
}
