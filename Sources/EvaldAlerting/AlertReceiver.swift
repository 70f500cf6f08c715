import EvaldCore
import Foundation

/// A destination for alert notifications (`alerts.receivers`).
public protocol AlertReceiver: Sendable {
    /// The config's `name`, unique among receivers: the outbox's key for this receiver.
    var name: String { get }
    var kind: ReceiverConfig.Kind { get }
    /// Notifications of alerts below it are not sent (default info = all).
    var minSeverity: AlertSeverity { get }
    /// Sends one notification in one attempt; returns on a 2xx. `now` is used for
    /// Alertmanager's `endsAt` and for signatures. Never retries: retries, backoff and the
    /// outbox are the caller's. A notification below `minSeverity` returns at once without
    /// a request, so an outbox that did not filter still never sends it.
    func deliver(_ notification: AlertNotification, now: Date) async throws(DeliveryError)
    /// Sends a scheduled usage report in one attempt (SPEC 7b); kinds that take alerts only
    /// (Alertmanager, PagerDuty) refuse it without a request, and `check-config` refuses
    /// naming them in `report.receivers`.
    func deliverReport(_ report: ScheduledReport, now: Date) async throws(DeliveryError)
}

extension AlertReceiver {
    public func deliverReport(_ report: ScheduledReport, now: Date) async throws(DeliveryError) {
        throw DeliveryError(
            retryable: false, message: "\(kind.rawValue) receiver \"\(name)\" takes alerts, not reports; name a webhook or slack receiver in report.receivers",
            shortDescription: "not_a_report_receiver")
    }

    /// Whether alerts of `severity` go to this receiver (`min_severity`).
    public func accepts(_ severity: AlertSeverity) -> Bool {
        severity >= minSeverity
    }
}
