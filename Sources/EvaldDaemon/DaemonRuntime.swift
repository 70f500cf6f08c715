import EvaldAlerting
import EvaldCore
import EvaldSpool
import EvaldStore
import Foundation

/// What the daemon's services share: a reloaded configuration waiting to be applied by the
/// ingest loop (the only task that touches the reader), the loop's last sign of progress for
/// the watchdog, and running totals for systemd's STATUS line.
/// The alert receivers and settings in force.
public struct AlertSetup: Sendable {
    public var config: EvaldConfig
    public var receivers: [any AlertReceiver]

    public init(config: EvaldConfig, receivers: [any AlertReceiver]) {
        self.config = config
        self.receivers = receivers
    }
}

public final class DaemonRuntime: @unchecked Sendable {
    public struct Reload: Sendable {
        public var config: EvaldConfig
        public var checks: CheckPlan
        public var judges: JudgeRouting
    }

    private let lock = NSLock()
    private var pending: Reload?
    private var pendingJudges: JudgeRoster?
    private var judgeStates: [JudgeStateRecord] = []
    private var judgeQueueDepth = 0
    private var alertSetup: AlertSetup?
    private var alertSetupVersion = 0
    private var progressAt = Date()
    private var totals = IngestCounts()
    private var refusedReloads = 0
    private var pendingBytes: Int64 = 0
    private var linesAt = Date()
    private var pollFailingSince: Date?
    public let metrics: DaemonMetrics

    public init(metrics: DaemonMetrics = DaemonMetrics()) {
        self.metrics = metrics
    }

    public func offer(_ reload: Reload) {
        lock.withLock { pending = reload }
        metrics.reloads.increment()
    }

    /// The judges of a reloaded configuration, for the judge workers (who own the roster).
    public func offerJudges(_ roster: JudgeRoster) {
        lock.withLock {
            pendingJudges = roster
            latestRoster = roster
            rosterVersion += 1
        }
        setJudgeSeries(roster)
    }

    private var latestRoster: JudgeRoster?
    private var rosterVersion = 0

    /// The newest reloaded roster when newer than `version`, for readers other than the judge
    /// workers (the canary), which must not take it from them.
    public func judgeRoster(newerThan version: Int) -> (version: Int, roster: JudgeRoster)? {
        lock.withLock {
            guard rosterVersion > version, let latestRoster else { return nil }
            return (rosterVersion, latestRoster)
        }
    }

    /// What detection needs to know of each judge: its floor and whether its scores are 1-5.
    public struct JudgeSeriesInfo: Sendable, Equatable {
        public var minPassRate: Double?
        public var scoresOneToFive: Bool
    }

    private var judgeSeries: [String: JudgeSeriesInfo] = [:]
    private var raised: [String: Double] = [:]
    private var raisedVersion = 0

    public func setJudgeSeries(_ roster: JudgeRoster) {
        var info: [String: JudgeSeriesInfo] = [:]
        for member in roster.members {
            let rubric = member.rubric
            info[rubric.name] = JudgeSeriesInfo(minPassRate: rubric.minPassRate, scoresOneToFive: rubric.scale == .numeric(min: 1, max: 5))
        }
        lock.withLock { judgeSeries = info }
    }

    public var currentJudgeSeries: [String: JudgeSeriesInfo] { lock.withLock { judgeSeries } }

    /// Routes sampled above their configured rate (the confirmation boost while a
    /// regression is suspected, the low-traffic floor), set by detection, applied by ingest.
    public func setRaisedRates(_ rates: [String: Double]) {
        lock.withLock {
            guard rates != raised else { return }
            raised = rates
            raisedVersion += 1
        }
    }

    public func raisedRates(newerThan version: Int) -> (version: Int, rates: [String: Double])? {
        lock.withLock { raisedVersion > version ? (raisedVersion, raised) : nil }
    }

    public var currentRaisedRates: [String: Double] { lock.withLock { raised } }

    public func takeJudgeReload() -> JudgeRoster? {
        lock.withLock {
            defer { pendingJudges = nil }
            return pendingJudges
        }
    }

    /// What the judge workers last reported: running, or paused and why (circuit open, budget
    /// spent): the health the alerting reads (`JudgeBudgetExhausted`).
    public func setJudgeStates(_ states: [JudgeStateRecord]) {
        lock.withLock { judgeStates = states }
    }

    public var currentJudgeStates: [JudgeStateRecord] { lock.withLock { judgeStates } }

    public func setJudgeQueueDepth(_ depth: Int) {
        lock.withLock { judgeQueueDepth = depth }
        metrics.judgeQueueDepth.set(Double(depth))
    }

    /// The receivers and alert settings of a reloaded configuration. Two services read it
    /// (health alerts and delivery), so it is versioned rather than taken.
    public func offerAlertSetup(_ setup: AlertSetup) {
        lock.withLock {
            alertSetup = setup
            alertSetupVersion += 1
        }
    }

    /// The newest alert setup when it is newer than `version`.
    public func alertSetup(newerThan version: Int) -> (version: Int, setup: AlertSetup)? {
        lock.withLock {
            guard alertSetupVersion > version, let alertSetup else { return nil }
            return (alertSetupVersion, alertSetup)
        }
    }

    public func takeReload() -> Reload? {
        lock.withLock {
            defer { pending = nil }
            return pending
        }
    }

    /// Called by the ingest loop once a round, busy or idle: the watchdog's proof of life.
    public func markProgress(_ counts: IngestCounts, pendingBytes pending: Int64? = nil, at now: Date = Date()) {
        lock.withLock {
            progressAt = now
            if counts.linesRead > 0 { linesAt = now }
            pollFailingSince = nil
            totals += counts
            if let pending { pendingBytes = pending }
        }
        metrics.recordPoll(counts, checkFailures: Int(counts.failedChecks), at: now)
    }

    public var lastProgress: Date { lock.withLock { progressAt } }

    /// When a spool line was last read, and the bytes still unread: `SpoolStalled`.
    public var spoolProgress: (lastLinesAt: Date, pendingBytes: Int64, failingSince: Date?) { lock.withLock { (linesAt, pendingBytes, pollFailingSince) } }

    public func countRefusedReload() {
        lock.withLock { refusedReloads += 1 }
        metrics.reloadsRefused.increment()
    }

    public func countPollFailure(at now: Date = Date()) {
        lock.withLock { if pollFailingSince == nil { pollFailingSince = now } }
        metrics.pollFailures.increment()
    }

    public var refusedReloadCount: Int { lock.withLock { refusedReloads } }

    /// The STATUS= text: what an operator sees in `systemctl status evald`.
    public var statusLine: String {
        lock.withLock {
            "lines read \(totals.linesRead), sampled \(totals.sampled), quarantined \(totals.malformed) since start; lag \(pendingBytes) bytes; judge queue \(judgeQueueDepth)" +
                (refusedReloads > 0 ? ", \(refusedReloads) reload(s) refused" : "")
        }
    }
}
