import EvaldCore

/// Things the reader noticed that an operator may want in the log. The reader never logs
/// itself; the daemon decides how to report these.
public enum SpoolEvent: Sendable, Equatable {
    case tracking(path: String)
    case renamed(from: String, to: String)
    case truncated(path: String, offset: Int64, size: Int64)
    case replaced(path: String)
    case gone(path: String, unreadBytes: Int64)
    case deleted(path: String)
    case quarantined(path: String, offset: Int64, reason: QuarantineReason, detail: String)
    /// The spool directory, or a file in it, cannot be opened or read (reported once, when it
    /// starts; `readable` when it ends).
    case unreadable(path: String, message: String)
    /// A path reported `unreadable` can be read again, or is gone.
    case readable(path: String)
}

/// What one poll did (with what a failed poll before it had committed).
public struct SpoolPollSummary: Sendable, Equatable {
    public var bytesRead: Int64 = 0
    public var counts = IngestCounts()
    /// The check verdicts of the evaluations committed, per check, route and model.
    public var checks = CheckTally()
    /// The usage of the batches committed (every call, sampled or not), per route and model.
    public var usage = UsageTotals()
    /// Every followed file was read up to its last complete line.
    public var caughtUp = true
    /// Bytes of the directory's files not yet consumed when the poll ended (the reader's lag).
    public var pendingBytes: Int64 = 0
    /// Spool files in the directory at the last listing.
    public var files = 0
    /// Why the spool directory could not be listed (missing, no permission); nil when it could.
    public var directoryError: String?
    /// Files in the spool directory that could not be opened or read at the last try.
    public var unreadableFiles: [String] = []
    public init() {}

    /// Adds what `other` committed (bytes, counts, check verdicts, usage), not its view of the
    /// directory.
    mutating func addCommitted(_ other: SpoolPollSummary) {
        bytesRead += other.bytesRead
        counts += other.counts
        checks.merge(other.checks)
        usage.merge(other.usage)
    }
}
