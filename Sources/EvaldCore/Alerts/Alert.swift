import Foundation

/// One alert as receivers and the CLI see it.
///
/// Invariants kept on every change, not only at init: `labels` holds `alertname` and
/// `severity` equal to `name` and `severity`, and `fingerprint` is `AlertFingerprint.of(labels)`.
/// The fingerprint is the alert's identity at the receivers (PagerDuty's `dedup_key`, the
/// webhook's `fingerprint`); a stale one would open a second incident for the same alert.
public struct Alert: Sendable, Equatable {
    /// "a-17": assigned by the store, what `evald explain` takes.
    public var id: String
    /// The alertname, e.g. "QualityRegression".
    public var name: String {
        didSet { labels["alertname"] = name }
    }
    public var severity: AlertSeverity {
        didSet { labels["severity"] = severity.rawValue }
    }
    /// alertname and severity always, then route, model, metric, and for drift
    /// version_before and version_after.
    public var labels: [String: String] {
        didSet {
            // Re-asserted here so that replacing the whole dictionary cannot drop them.
            if labels["alertname"] != name { labels["alertname"] = name }
            if labels["severity"] != severity.rawValue { labels["severity"] = severity.rawValue }
            fingerprint = AlertFingerprint.of(labels)
        }
    }
    /// summary, description, runbook_url, examples (comma-separated evaluation ids).
    public var annotations: [String: String]
    public var state: AlertState
    public var startsAt: Date
    /// When it was resolved; nil while firing.
    public var endsAt: Date?
    /// `AlertFingerprint.of(labels)`, recomputed whenever `labels` change. Settable only so
    /// that code restoring an alert can keep the value it stored.
    public var fingerprint: String

    public init(
        id: String, name: String, severity: AlertSeverity, labels: [String: String], annotations: [String: String],
        state: AlertState, startsAt: Date, endsAt: Date? = nil
    ) {
        var labels = labels
        labels["alertname"] = name
        labels["severity"] = severity.rawValue
        self.id = id
        self.name = name
        self.severity = severity
        self.labels = labels
        self.annotations = annotations
        self.state = state
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.fingerprint = AlertFingerprint.of(labels)
    }
}
