import EvaldAlerting
import EvaldCore
import EvaldStore
import Foundation
import Logging
import ServiceLifecycle

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
            summary.stillPending = OutboxKind.allCases.reduce(0) { $0 + ((try? store.outboxPendingCount($1)) ?? 0) }
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
        for name in setup.config.usage.report?.receivers ?? [] { runtime.metrics.reportDeliveries(receiver: name) }
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
                        guard await self.deliver(entry, via: receiver, config: config, into: &part, prepare: self.prepare) else {
                            return part
                        }
                    }
                    for entry in reportsByReceiver[name] ?? [] {
                        guard await self.deliver(entry, via: receiver, config: config, into: &part, prepare: self.prepare) else { break }
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

    /// One delivery step for either outbox: check the row (already sent? receiver gone? too
    /// old?), let `prepare` decide what to send, send once, record the result. Returns false
    /// when the receiver failed in a way worth retrying (it is likely down).
    @discardableResult
    private func deliver<Item: OutboxItem>(
        _ item: Item, via receiver: (any AlertReceiver)?, config: AlertsConfig, into summary: inout DrainSummary,
        prepare: (Item, any AlertReceiver) throws -> OutboxSend
    ) async -> Bool {
        let kind = Item.kind
        let key = HeldBack.Key(kind: kind, id: item.id)
        if let acknowledgedAt = heldBack.acknowledged(key) {
            // Sent before; only the record is missing: write it, never send again.
            if (try? store.markOutboxSent(kind, id: item.id, at: acknowledgedAt)) != nil { heldBack.clear(key) }
            return true
        }
        if heldBack.isWaiting(key, now: now()) { return true }
        var metadata = item.logMetadata
        metadata["receiver"] = "\(item.receiver)"
        func giveUp(_ reason: String, outcome: OutboxOutcome = .givenUp) throws {
            try store.giveUpOutbox(kind, id: item.id, at: now(), error: reason)
            summary.gaveUp += 1
            runtime.metrics.countDelivery(kind, receiver: item.receiver, outcome: outcome)
        }
        do {
            // Checked right before sending: a restart, or another round, may have sent it already.
            guard try store.outboxPending(kind, id: item.id) else { return true }
            guard let receiver else {
                try giveUp("receiver \(item.receiver) is no longer configured")
                logger.warning(kind.event("dropped"), metadata: metadata.merging(["reason": "receiver removed from the config"]) { $1 })
                return true
            }
            if now().timeIntervalSince(item.createdAt) > config.maxAge {
                try giveUp("not delivered within alerts.max_age")
                logger.error(
                    kind.event("given_up"),
                    metadata: metadata.merging(["attempts": "\(item.attempts)", "reason": "older than alerts.max_age"]) { $1 })
                return true
            }
            let attempt: @Sendable (any AlertReceiver, Date) async -> DeliveryError?
            switch try prepare(item, receiver) {
            case .skip(let reason):
                try store.giveUpOutbox(kind, id: item.id, at: now(), error: reason, countAsFailure: false)
                return true
            case .unreadable(let reason):
                try giveUp(reason)
                logger.error(kind.event("given_up"), metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
                return true
            case .send(let more, let send):
                metadata.merge(more) { $1 }
                attempt = send
            }
            guard let error = await attempt(receiver, now()) else {
                let sentAt = now()
                heldBack.acknowledge(key, at: sentAt)
                // Counted when the receiver took it, even if the record below fails to be written.
                runtime.metrics.countDelivery(kind, receiver: receiver.name, outcome: .sent)
                summary.sent += 1
                try store.markOutboxSent(kind, id: item.id, at: sentAt)
                heldBack.clear(key)
                logger.info(kind.event("sent"), metadata: metadata)
                return true
            }
            summary.failedAttempts += 1
            if !error.retryable {
                try giveUp(error.description, outcome: .rejected)
                logger.error(
                    kind.event("rejected"),
                    metadata: metadata.merging(["error": "\(error)", "action": "not retried: fix the receiver's config"]) { $1 })
                return true
            }
            runtime.metrics.countDelivery(kind, receiver: receiver.name, outcome: .retried)
            let delay = backoff(attempt: item.attempts + 1, retryAfter: error.retryAfter, maxBackoff: config.maxBackoff)
            heldBack.wait(key, until: now() + delay)
            do {
                try store.retryOutbox(kind, id: item.id, at: now() + delay, error: error.description)
                heldBack.clear(key)
            } catch {
                logger.error(kind.writeFailedEvent, metadata: ["error": "\(error)"])
                return false
            }
            logger.warning(
                kind.event("failed"),
                metadata: metadata.merging(["error": "\(error)", "retry_in_s": "\(String(format: "%.1f", delay))"]) { $1 })
            return false
        } catch {
            logger.error(kind.writeFailedEvent, metadata: ["error": "\(error)"])
            return true
        }
    }

    /// An alert notification: the stored alert as the receiver's payload, unless the receiver
    /// takes only more severe alerts.
    private func prepare(_ entry: OutboxEntry, for receiver: any AlertReceiver) throws -> OutboxSend {
        guard let stored = try store.alert(id: entry.alertID) else { return .unreadable(reason: "alert a-\(entry.alertID) is no longer stored") }
        let alert = try makeAlert(stored)
        guard receiver.accepts(alert.severity) else { return .skip(reason: "below the receiver's min_severity") }
        let notification = AlertNotification(alert: alert, event: AlertNotification.Event(rawValue: entry.event) ?? .firing)
        return .send(["alertname": "\(alert.name)"]) { receiver, now in
            do throws(DeliveryError) {
                try await receiver.deliver(notification, now: now)
                return nil
            } catch { return error }
        }
    }

    /// A scheduled report (SPEC 7b): the report as stored when its period ended.
    private func prepare(_ entry: ReportOutboxEntry, for receiver: any AlertReceiver) -> OutboxSend {
        guard let report = entry.report else { return .unreadable(reason: "the stored report could not be read by this version") }
        return .send([:]) { receiver, now in
            do throws(DeliveryError) {
                try await receiver.deliverReport(report, now: now)
                return nil
            } catch { return error }
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
