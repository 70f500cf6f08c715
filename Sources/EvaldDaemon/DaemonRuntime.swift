import EvaldCore
import EvaldSpool
import Foundation

/// What the daemon's services share: a reloaded configuration waiting to be applied by the
/// ingest loop (the only task that touches the reader), the loop's last sign of progress for
/// the watchdog, and running totals for systemd's STATUS line.
public final class DaemonRuntime: @unchecked Sendable {
    public struct Reload: Sendable {
        public var config: EvaldConfig
        public var checks: CheckPlan
        public var judges: JudgeRouting
    }

    private let lock = NSLock()
    private var pending: Reload?
    private var progressAt = Date()
    private var totals = IngestCounts()
    private var refusedReloads = 0
    private var pendingBytes: Int64 = 0
    public let metrics: DaemonMetrics

    public init(metrics: DaemonMetrics = DaemonMetrics()) {
        self.metrics = metrics
    }

    public func offer(_ reload: Reload) {
        lock.withLock { pending = reload }
        metrics.reloads.increment()
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
            totals += counts
            if let pending { pendingBytes = pending }
        }
        metrics.recordPoll(counts, checkFailures: Int(counts.failedChecks), at: now)
    }

    public var lastProgress: Date { lock.withLock { progressAt } }

    public func countRefusedReload() {
        lock.withLock { refusedReloads += 1 }
        metrics.reloadsRefused.increment()
    }

    public func countPollFailure() { metrics.pollFailures.increment() }

    public var refusedReloadCount: Int { lock.withLock { refusedReloads } }

    /// The STATUS= text: what an operator sees in `systemctl status evald`.
    public var statusLine: String {
        lock.withLock {
            // Judges are not built yet: their queue is always empty.
            "lines read \(totals.linesRead), sampled \(totals.sampled), quarantined \(totals.malformed) since start; lag \(pendingBytes) bytes; judge queue 0" +
                (refusedReloads > 0 ? ", \(refusedReloads) reload(s) refused" : "")
        }
    }
}
