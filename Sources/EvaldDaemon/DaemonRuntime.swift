import EvaldCore
import EvaldReports
import EvaldSpool
import EvaldStore
import Foundation
import Synchronization

/// What the running services tell each other beyond the database: the ingest loop's last
/// sign of progress (the watchdog, `/healthz`, `SpoolStalled`), the judges' health (alerting),
/// the sampling rates detection raised (ingest), and running totals for systemd's STATUS line.
/// The configuration in force is not here: it is the `SetupSource`.
public final class DaemonRuntime: Sendable {
    private struct State {
        var judgeStates: [JudgeHealth] = []
        var judgeQueueDepth = 0
        var progressAt = Date()
        var totals = IngestCounts()
        var refusedReloads = 0
        var pendingBytes: Int64 = 0
        /// A poll found the spool read to its end (and pendingBytes came from a real poll).
        var spoolCaughtUp = false
        var spoolFiles = 0
        var linesAt = Date()
        var unreadableFiles: [String] = []
        var pollFailure: PollFailure?
        var raised: [String: Double] = [:]
        var raisedVersion = 0
        var sizeCheck: RetentionService.SizeCheck?
        var overLimitSince: Date?
    }

    /// Why the spool loop's polls fail, and since when: the state database refuses writes (a
    /// full disk, a lock held too long) or the spool directory cannot be listed.
    public struct PollFailure: Sendable, Equatable {
        public var since: Date
        public var reason: String
        /// The state database failed (as opposed to the spool directory).
        public var store: Bool
    }

    private let state = Mutex(State())
    public let metrics: DaemonMetrics
    /// The OTLP receiver's spool files (nil without `otlp`): the reader deletes them once read.
    public let receiverSpool: OTLPReceiverSpool?

    public init(metrics: DaemonMetrics = DaemonMetrics(), receiverSpool: OTLPReceiverSpool? = nil) {
        self.metrics = metrics
        self.receiverSpool = receiverSpool
    }

    public func countReload() {
        metrics.reloads.increment()
    }

    /// Routes sampled above their configured rate (the confirmation boost while a
    /// regression is suspected, the low-traffic floor), set by detection, applied by ingest.
    public func setRaisedRates(_ rates: [String: Double]) {
        state.withLock {
            guard rates != $0.raised else { return }
            $0.raised = rates
            $0.raisedVersion += 1
        }
    }

    public func raisedRates(newerThan version: Int) -> (version: Int, rates: [String: Double])? {
        state.withLock { $0.raisedVersion > version ? ($0.raisedVersion, $0.raised) : nil }
    }

    public var currentRaisedRates: [String: Double] { state.withLock { $0.raised } }

    /// What the judge workers last reported: running, or paused and why (circuit open, budget
    /// spent): the health the alerting reads (`JudgeBudgetExhausted`).
    public func setJudgeStates(_ states: [JudgeHealth]) {
        state.withLock { $0.judgeStates = states }
    }

    public var currentJudgeStates: [JudgeHealth] { state.withLock { $0.judgeStates } }

    public func setJudgeQueueDepth(_ depth: Int) {
        state.withLock { $0.judgeQueueDepth = depth }
        metrics.judgeQueueDepth.set(Double(depth))
    }

    /// Called by the ingest loop once a round, busy or idle: the watchdog's proof of life.
    /// - Parameters:
    ///   - directoryError: the spool directory could not be listed: the poll is a failure for
    ///     `SpoolStalled` and `/healthz` though nothing failed to commit.
    ///   - unreadable: the spool files that could not be opened or read.
    public func markProgress(
        _ counts: IngestCounts, checks: CheckTally = CheckTally(), usage: UsageTotals = UsageTotals(), pendingBytes pending: Int64? = nil, files: Int? = nil,
        directoryError: String? = nil, unreadable: [String]? = nil, at now: Date = Date()
    ) {
        state.withLock {
            $0.progressAt = now
            if counts.linesRead > 0 { $0.linesAt = now }
            if let directoryError {
                if $0.pollFailure?.reason != directoryError { $0.pollFailure = PollFailure(since: now, reason: directoryError, store: false) }
            } else {
                $0.pollFailure = nil
            }
            $0.totals += counts
            if let pending {
                $0.pendingBytes = pending
                $0.spoolCaughtUp = pending == 0 && directoryError == nil
            }
            if let files { $0.spoolFiles = files }
            if let unreadable { $0.unreadableFiles = unreadable }
        }
        metrics.storeWritesFailing.set(Double(0))
        metrics.recordPoll(counts, checkFailures: Int(counts.failedChecks), at: now)
        if !checks.isEmpty { metrics.recordChecks(checks) }
        if !usage.isEmpty { metrics.recordUsage(usage) }
    }

    /// The ingest loop is alive, sleeping between polls: a sign of life for the watchdog. Also
    /// while its polls fail (it backs off between them): the watchdog is there for a hung
    /// process, and a restart cannot free a disk; `/healthz` and the health alerts report the
    /// failure instead.
    public func markAlive(pollsWorking: Bool, at now: Date = Date()) {
        state.withLock { $0.progressAt = now }
        if pollsWorking { metrics.lastProgress.set(now.timeIntervalSince1970) }
    }

    public var lastProgress: Date { state.withLock { $0.progressAt } }

    /// The spool as the ingest loop last saw it: files in the directory and bytes unread.
    public var spoolSnapshot: StatusReport.SpoolSnapshot {
        state.withLock {
            StatusReport.SpoolSnapshot(
                files: $0.spoolFiles, bytesPending: $0.pendingBytes, unreadableFiles: $0.unreadableFiles,
                directoryError: $0.pollFailure.flatMap { $0.store ? nil : $0.reason })
        }
    }

    /// When a spool line was last read, and the bytes still unread: `SpoolStalled`.
    public var spoolProgress: (lastLinesAt: Date, pendingBytes: Int64, failingSince: Date?) {
        state.withLock { ($0.linesAt, $0.pendingBytes, $0.pollFailure?.since) }
    }

    /// Whether the last poll read the spool to its end: what a report of a period that has just
    /// ended waits for, so the period's last calls are in it.
    public var spoolCaughtUp: Bool { state.withLock { $0.spoolCaughtUp && $0.pollFailure == nil } }

    /// Why polls fail now, and since when (nil: the last poll worked).
    public var pollFailure: PollFailure? { state.withLock { $0.pollFailure } }

    /// The retention's last size check against `retention.max_db_bytes`: `StateStoreFailing`.
    public func setSizeCheck(_ check: RetentionService.SizeCheck, at now: Date = Date()) {
        state.withLock {
            $0.sizeCheck = check
            $0.overLimitSince = check.overLimit ? ($0.overLimitSince ?? now) : nil
        }
    }

    /// The last size check, and since when the database has been over its limit (nil: it is not).
    public var lastSizeCheck: (check: RetentionService.SizeCheck, overLimitSince: Date?)? {
        state.withLock { s in s.sizeCheck.map { ($0, s.overLimitSince) } }
    }

    public func countRefusedReload() {
        state.withLock { $0.refusedReloads += 1 }
        metrics.reloadsRefused.increment()
    }

    /// A poll failed; `store`: the state database refused it (the batch was not committed and
    /// is read again once a write works).
    public func countPollFailure(reason: String, store: Bool, at now: Date = Date()) {
        state.withLock {
            let since = $0.pollFailure?.store == store ? $0.pollFailure?.since ?? now : now
            $0.pollFailure = PollFailure(since: since, reason: reason, store: store)
        }
        metrics.pollFailures.increment()
        if store { metrics.storeWritesFailing.set(Double(1)) }
    }

    public var refusedReloadCount: Int { state.withLock { $0.refusedReloads } }

    /// The STATUS= text: what an operator sees in `systemctl status evald`.
    public var statusLine: String {
        state.withLock {
            "lines read \($0.totals.linesRead), sampled \($0.totals.sampled), quarantined \($0.totals.malformed) since start; lag \($0.pendingBytes) bytes; judge queue \($0.judgeQueueDepth)"
                + ($0.refusedReloads > 0 ? ", \($0.refusedReloads) reload(s) refused" : "")
        }
    }
}
