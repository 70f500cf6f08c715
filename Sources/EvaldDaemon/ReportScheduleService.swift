import EvaldCore
import EvaldReports
import EvaldStore
import Foundation
import Logging
import ServiceLifecycle

/// The scheduled usage report (SPEC 7b `report:`): when a period ends (wall-clock time in the
/// schedule's zone), its report is built once and queued in the report outbox for each
/// receiver; `AlertDeliveryService` sends it with the alerts' retries. The outbox row is unique
/// per (period, receiver), so a restart or kill -9 never queues a period twice, and a period
/// that ended while evald was down is queued when it starts again.
public struct ReportScheduleService: Service {
    /// A round is one indexed lookup unless a period has just ended.
    static let interval = 5.0
    static let top = 10

    /// A period is reported this long after it ended at the earliest: calls of its last
    /// seconds may still be in a shipper's buffer.
    static let grace = 60.0

    let store: StateStore
    let setups: SetupSource
    let logger: Logger
    let now: @Sendable () -> Date
    /// Whether ingest has read the spool to its end (the daemon's last poll; `run --once` has
    /// read it before it asks).
    let spoolCaughtUp: @Sendable () -> Bool

    public init(
        store: StateStore, setups: SetupSource, logger: Logger, now: @escaping @Sendable () -> Date = Date.init,
        spoolCaughtUp: @escaping @Sendable () -> Bool = { true }
    ) {
        self.store = store
        self.setups = setups
        self.logger = logger
        self.now = now
        self.spoolCaughtUp = spoolCaughtUp
    }

    public func run() async throws {
        let service = self
        await runPeriodically(
            every: Self.interval, setups: setups, logger: logger, failure: "report.schedule_failed", makeState: { _ in Skipped() },
            round: { skipped in
                try service.queueDue(skipped: skipped); return false
            })
    }

    /// The period a first sight skipped (it had no calls), so it is not gathered every round.
    final class Skipped {
        var periodEnd: Date?
    }

    /// Queues the newest ended period's report if it is not queued yet, once the period has
    /// been over for `grace` and ingest has read the spool to its end; returns how many
    /// receivers it was queued for. Only the newest period: after a long outage the periods
    /// before it are not sent (`evald report --since --until` shows them), and a period ending
    /// at or before one already queued (the schedule was changed, the clock went back) is not
    /// sent either. A schedule first seen by this database sends the period that just ended only
    /// when it had calls (an operator who turns the report on hears about last week, not about
    /// an empty install); every later period is sent, calls or not.
    @discardableResult
    public func queueDue() throws -> Int { try queueDue(skipped: Skipped()) }

    func queueDue(skipped: Skipped) throws -> Int {
        let config = setups.current.config
        guard let schedule = config.usage.report, schedule.problem == nil, !schedule.receivers.isEmpty else { return 0 }
        let at = now()
        let period = schedule.latestPeriod(endingBy: at)
        guard at >= period.end + Self.grace, skipped.periodEnd != period.end, spoolCaughtUp(),
            try store.newestQueuedReportEnd().map({ period.end > $0 }) ?? true
        else { return 0 }
        let firstSeen = try store.reportScheduleFirstSeen(now: at)
        let report = try UsageReport.gather(store: store, since: period.start, until: period.end, top: Self.top, timeZone: config.usage.timeZone)
        if period.end < firstSeen, report.totals.calls == 0 {
            skipped.periodEnd = period.end
            return 0
        }
        let queued = try store.enqueueReport(report.scheduled(), receivers: schedule.receivers, now: at)
        if queued > 0 {
            logger.info(
                "report.queued",
                metadata: [
                    "report.since": "\(RFC3339.format(period.start, fractional: false))",
                    "report.until": "\(RFC3339.format(period.end, fractional: false))", "report.receivers": "\(queued)",
                    "report.calls": "\(report.totals.calls)",
                ])
        }
        return queued
    }
}
