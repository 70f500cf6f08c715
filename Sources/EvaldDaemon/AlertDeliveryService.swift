import EvaldAlerting
import EvaldCore
import EvaldStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Delivers the outbox, in small stages as Alertmanager's notifier does: check the
/// record (already sent? too old?), send, record the result. A notification is marked sent
/// only after the receiver's 2xx; failures wait with exponential backoff and jitter (or the
/// receiver's Retry-After), up to `alerts.max_backoff`, and are given up after `alerts.max_age`.
public struct AlertDeliveryService: Service {
    public struct DrainSummary: Sendable, Equatable {
        public var sent = 0
        public var failedAttempts = 0
        public var gaveUp = 0
        public var stillPending = 0
    }

    let store: StateStore
    let setups: SetupSource
    let runtime: DaemonRuntime
    let logger: Logger
    let now: @Sendable () -> Date
    let random: @Sendable () -> Double
    static let pollInterval = 1.0
    /// Entries a receiver acknowledged but whose record failed to be written, and entries
    /// whose retry could not be written: held back in memory so they are not sent every round.
    let heldBack = HeldBack()
    /// The same for scheduled reports (their own outbox, their own ids).
    let heldBackReports = HeldBack()

    public init(
        store: StateStore, setups: SetupSource, runtime: DaemonRuntime, logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init, random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.store = store
        self.setups = setups
        self.runtime = runtime
        self.logger = logger
        self.now = now
        self.random = random
    }

    public func run() async throws {
        await BlockingExecutor.shared.run {
            await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    _ = await self.deliverDue()
                    do { try await Task.sleep(for: .seconds(Self.pollInterval)) } catch { break }
                }
            }
        }
    }

    /// `evald run --once`: delivers what is due, waiting for retries, until nothing is pending
    /// or `timeout` has passed (the rest stays in the outbox for the next run).
    public func drain(timeout: Double) async -> DrainSummary {
        let deadline = now() + timeout
        var summary = DrainSummary()
        while true {
            let round = await deliverDue()
            summary.sent += round.sent
            summary.failedAttempts += round.failedAttempts
            summary.gaveUp += round.gaveUp
            summary.stillPending = ((try? store.pendingNotificationCount()) ?? 0) + ((try? store.pendingReportCount()) ?? 0)
            if summary.stillPending == 0 || now() >= deadline { break }
            try? await Task.sleep(for: .seconds(0.2))
        }
        return summary
    }

    /// One round: queue the repeats that are due, then send every due notification; receivers
    /// in parallel, each receiver's notifications in order.
    func deliverDue() async -> DrainSummary {
        var summary = DrainSummary()
        let setup = setups.current
        let config = setup.config.alerts
        let receivers = Dictionary(setup.receivers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let at = now()
        do {
            let schedules = receivers.values.map { receiver in
                StateStore.RepeatSchedule(
                    receiver: receiver.name, interval: Self.repeatInterval(receiver, config: config),
                    severities: AlertSeverity.allCases.filter(receiver.accepts).map(\.rawValue))
            }
            try store.enqueueRepeats(schedules, now: at)
        } catch {
            logger.error("alerts.repeat_failed", metadata: ["error": "\(error)"])
        }
        let due: [OutboxEntry]
        do { due = try store.dueNotifications(now: at, limit: 256) } catch {
            logger.error("alerts.outbox_read_failed", metadata: ["error": "\(error)"])
            return summary
        }
        let reports: [ReportOutboxEntry]
        do { reports = try store.dueReports(now: at, limit: 16) } catch {
            logger.error("report.outbox_read_failed", metadata: ["error": "\(error)"])
            reports = []
        }
        let byReceiver = Dictionary(grouping: due, by: \.receiver)
        let reportsByReceiver = Dictionary(grouping: reports, by: \.receiver)
        await withTaskGroup(of: DrainSummary.self) { group in
            for name in Set(byReceiver.keys).union(reportsByReceiver.keys) {
                let receiver = receivers[name]
                group.addTask {
                    var part = DrainSummary()
                    for entry in byReceiver[name] ?? [] {
                        // After a retryable failure the receiver is taken to be down for this
                        // round: its other notifications wait rather than each timing out.
                        guard await self.deliver(entry, via: receiver, config: config, into: &part) else { return part }
                    }
                    for entry in reportsByReceiver[name] ?? [] {
                        guard await self.deliver(entry, via: receiver, config: config, into: &part) else { break }
                    }
                    return part
                }
            }
            for await part in group {
                summary.sent += part.sent
                summary.failedAttempts += part.failedAttempts
                summary.gaveUp += part.gaveUp
            }
        }
        runtime.metrics.alertsFiring.set(Double((try? store.firingAlertCount()) ?? 0))
        return summary
    }

    /// Alertmanager wants a re-post every `resend_interval` while firing (or it resolves the
    /// alert itself); the other receivers hear a firing alert again every `repeat_interval`.
    static func repeatInterval(_ receiver: any AlertReceiver, config: AlertsConfig) -> Double {
        if receiver.kind == .alertmanager {
            return config.receivers.first { $0.name == receiver.name }?.resendInterval ?? config.resendInterval
        }
        return config.repeatInterval
    }

    /// Returns false when the receiver failed in a way worth retrying (it is likely down).
    @discardableResult
    private func deliver(
        _ entry: OutboxEntry, via receiver: (any AlertReceiver)?, config: AlertsConfig,
        into summary: inout DrainSummary
    ) async -> Bool {
        let metrics = runtime.metrics
        if let acknowledgedAt = heldBack.acknowledged(entry.id) {
            // Sent before; only the record is missing: write it, never send again.
            if (try? store.markNotificationSent(id: entry.id, at: acknowledgedAt)) != nil { heldBack.clear(entry.id) }
            return true
        }
        if heldBack.isWaiting(entry.id, now: now()) { return true }
        do {
            // Checked right before sending: a restart, or another round, may have sent it already.
            guard try store.notificationPending(id: entry.id) else { return true }
            guard let receiver else {
                try store.giveUpNotification(id: entry.id, at: now(), error: "receiver \(entry.receiver) is no longer configured")
                summary.gaveUp += 1
                logger.warning("alerts.notification_dropped", metadata: ["receiver": "\(entry.receiver)", "reason": "receiver removed from the config"])
                return true
            }
            if now().timeIntervalSince(entry.createdAt) > config.maxAge {
                try store.giveUpNotification(id: entry.id, at: now(), error: "not delivered within alerts.max_age")
                summary.gaveUp += 1
                logger.error(
                    "alerts.notification_given_up",
                    metadata: [
                        "receiver": "\(entry.receiver)", "alert": "a-\(entry.alertID)",
                        "event": "\(entry.event)", "attempts": "\(entry.attempts)", "reason": "older than alerts.max_age",
                    ])
                return true
            }
            guard let stored = try store.alert(id: entry.alertID) else { return true }
            let alert = try makeAlert(stored)
            guard receiver.accepts(alert.severity) else {
                try store.giveUpNotification(id: entry.id, at: now(), error: "below the receiver's min_severity", countAsFailure: false)
                return true
            }
            let notification = AlertNotification(alert: alert, event: AlertNotification.Event(rawValue: entry.event) ?? .firing)
            let failure: DeliveryError?
            do {
                try await receiver.deliver(notification, now: now())
                failure = nil
            } catch {
                failure = error
            }
            guard let error = failure else {
                let sentAt = now()
                heldBack.acknowledge(entry.id, at: sentAt)
                // Counted when the receiver took it, even if the record below fails to be written.
                metrics.notificationsSent.increment()
                summary.sent += 1
                try store.markNotificationSent(id: entry.id, at: sentAt)
                heldBack.clear(entry.id)
                logger.info(
                    "alerts.notification_sent",
                    metadata: [
                        "receiver": "\(receiver.name)", "alert": "\(alert.id)",
                        "alertname": "\(alert.name)", "event": "\(entry.event)",
                    ])
                return true
            }
            metrics.notificationsFailed.increment()
            summary.failedAttempts += 1
            if !error.retryable {
                try store.giveUpNotification(id: entry.id, at: now(), error: error.description)
                summary.gaveUp += 1
                logger.error(
                    "alerts.notification_rejected",
                    metadata: [
                        "receiver": "\(receiver.name)", "alert": "\(alert.id)",
                        "error": "\(error)", "action": "not retried: fix the receiver's config",
                    ])
                return true
            }
            let delay = backoff(attempt: entry.attempts + 1, retryAfter: error.retryAfter, maxBackoff: config.maxBackoff)
            heldBack.wait(entry.id, until: now() + delay)
            do {
                try store.retryNotification(id: entry.id, at: now() + delay, error: error.description)
                heldBack.clear(entry.id)
            } catch {
                logger.error("alerts.outbox_write_failed", metadata: ["error": "\(error)"])
                return false
            }
            logger.warning(
                "alerts.notification_failed",
                metadata: [
                    "receiver": "\(receiver.name)", "alert": "\(alert.id)",
                    "error": "\(error)", "retry_in_s": "\(String(format: "%.1f", delay))",
                ])
            return false
        } catch {
            logger.error("alerts.outbox_write_failed", metadata: ["error": "\(error)"])
            return true
        }
    }

    /// One scheduled report (SPEC 7b) to one receiver, with the alerts' retries, backoff and
    /// give-up. Returns false when the receiver failed in a way worth retrying.
    private func deliver(
        _ entry: ReportOutboxEntry, via receiver: (any AlertReceiver)?, config: AlertsConfig, into summary: inout DrainSummary
    ) async -> Bool {
        if let acknowledgedAt = heldBackReports.acknowledged(entry.id) {
            if (try? store.markReportSent(id: entry.id, at: acknowledgedAt)) != nil { heldBackReports.clear(entry.id) }
            return true
        }
        if heldBackReports.isWaiting(entry.id, now: now()) { return true }
        let period = "\(RFC3339.format(entry.report.periodStart, fractional: false))..\(RFC3339.format(entry.periodEnd, fractional: false))"
        do {
            guard try store.reportPending(id: entry.id) else { return true }
            guard let receiver else {
                try store.giveUpReport(id: entry.id, at: now(), error: "receiver \(entry.receiver) is no longer configured")
                summary.gaveUp += 1
                logger.warning("report.dropped", metadata: ["receiver": "\(entry.receiver)", "reason": "receiver removed from the config"])
                return true
            }
            if now().timeIntervalSince(entry.createdAt) > config.maxAge {
                try store.giveUpReport(id: entry.id, at: now(), error: "not delivered within alerts.max_age")
                summary.gaveUp += 1
                logger.error(
                    "report.given_up",
                    metadata: [
                        "receiver": "\(entry.receiver)", "report.period": "\(period)", "attempts": "\(entry.attempts)", "reason": "older than alerts.max_age",
                    ])
                return true
            }
            let failure: DeliveryError?
            do {
                try await receiver.deliverReport(entry.report, now: now())
                failure = nil
            } catch {
                failure = error
            }
            guard let error = failure else {
                let sentAt = now()
                heldBackReports.acknowledge(entry.id, at: sentAt)
                summary.sent += 1
                try store.markReportSent(id: entry.id, at: sentAt)
                heldBackReports.clear(entry.id)
                logger.info("report.sent", metadata: ["receiver": "\(receiver.name)", "report.period": "\(period)"])
                return true
            }
            summary.failedAttempts += 1
            if !error.retryable {
                try store.giveUpReport(id: entry.id, at: now(), error: error.description)
                summary.gaveUp += 1
                logger.error(
                    "report.rejected",
                    metadata: [
                        "receiver": "\(receiver.name)", "report.period": "\(period)", "error": "\(error)", "action": "not retried: fix the receiver's config",
                    ])
                return true
            }
            let delay = backoff(attempt: entry.attempts + 1, retryAfter: error.retryAfter, maxBackoff: config.maxBackoff)
            heldBackReports.wait(entry.id, until: now() + delay)
            try store.retryReport(id: entry.id, at: now() + delay, error: error.description)
            heldBackReports.clear(entry.id)
            logger.warning(
                "report.failed",
                metadata: [
                    "receiver": "\(receiver.name)", "report.period": "\(period)", "error": "\(error)",
                    "retry_in_s": "\(String(format: "%.1f", delay))",
                ])
            return false
        } catch {
            logger.error("report.outbox_write_failed", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Full-jitter exponential backoff from 1 s, capped at `alerts.max_backoff`; a receiver's
    /// Retry-After wins when it is longer (still capped).
    func backoff(attempt: Int, retryAfter: Double?, maxBackoff: Double) -> Double {
        let ceiling = min(maxBackoff, pow(2, Double(min(attempt, 30))))
        let jittered = max(0.05, ceiling * random())
        return min(maxBackoff, max(jittered, retryAfter ?? 0))
    }

    func makeAlert(_ stored: StoredAlert) throws -> Alert {
        var annotations = stored.annotations
        let examples = try store.alertExamples(id: stored.id)
        if !examples.isEmpty, annotations["examples"] == nil {
            annotations["examples"] = examples.map { "e-\($0)" }.joined(separator: ",")
        }
        return Alert(
            id: stored.publicID, name: stored.name, severity: AlertSeverity(rawValue: stored.severity) ?? .warning,
            labels: stored.labels, annotations: annotations,
            state: stored.state == "resolved" ? .resolved : .firing, startsAt: stored.startedAt, endsAt: stored.resolvedAt)
    }
}

/// In-memory notes that outlive a failed database write within this process; shared by the
/// round's per-receiver tasks.
final class HeldBack: Sendable {
    private struct Notes {
        var acknowledgedAt: [Int64: Date] = [:]
        var waitUntil: [Int64: Date] = [:]
    }

    private let notes = Mutex(Notes())

    func acknowledge(_ id: Int64, at: Date) { notes.withLock { $0.acknowledgedAt[id] = at } }
    func acknowledged(_ id: Int64) -> Date? { notes.withLock { $0.acknowledgedAt[id] } }
    func wait(_ id: Int64, until: Date) { notes.withLock { $0.waitUntil[id] = until } }
    func isWaiting(_ id: Int64, now: Date) -> Bool { notes.withLock { ($0.waitUntil[id] ?? .distantPast) > now } }
    func clear(_ id: Int64) {
        notes.withLock {
            $0.acknowledgedAt[id] = nil
            $0.waitUntil[id] = nil
        }
    }
}
