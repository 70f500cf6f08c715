import EvaldCore
import EvaldHTTP
import Foundation

extension AlertPayloads {
    /// PagerDuty's limit on `payload.summary` (Events API v2, "Send an Alert Event").
    static let pagerDutySummaryLimit = 1024

    /// A PagerDuty Events API v2 event.
    ///
    /// Firing and repeat: `event_action: trigger` with `routing_key`, `dedup_key` = the
    /// fingerprint (so a repeat adds to the open alert and the resolve finds it), `payload`
    /// {`summary` (at most 1024 characters), `severity`, `source: "evald"`, `timestamp`
    /// (the alert's start), `component` = route, `group` = model, `class` = metric (each when
    /// the label is set), `custom_details` {alert_id, labels, annotations}}, `links` [the
    /// runbook], `client: "evald"`. Resolved: only `routing_key`, `event_action: resolve`
    /// and `dedup_key`, the documented resolve shape.
    ///
    /// Severity: PagerDuty takes critical, error, warning or info; ours map to the same
    /// names (evald has nothing between warning and critical, so `error` is not used).
    public static func pagerDuty(_ notification: AlertNotification, routingKey: Secret) -> [UInt8] {
        let alert = notification.alert
        if notification.isResolution {
            return bytes(
                .object([
                    ("routing_key", .string(routingKey.value)),
                    ("event_action", "resolve"),
                    ("dedup_key", .string(alert.fingerprint)),
                ]))
        }
        var payload: [(String, JSONValue)] = [
            ("summary", .string(TextLimit.truncate(summary(of: alert), maxUTF16: pagerDutySummaryLimit))),
            ("severity", .string(pagerDutySeverity(alert.severity))),
            ("source", "evald"),
            ("timestamp", .string(time(alert.startsAt))),
        ]
        for (label, field) in [("route", "component"), ("model", "group"), ("metric", "class")] {
            if let value = alert.labels[label], !value.isEmpty { payload.append((field, .string(value))) }
        }
        payload.append(
            (
                "custom_details",
                .object([
                    ("alert_id", .string(alert.id)),
                    ("labels", sortedObject(alert.labels)),
                    ("annotations", sortedObject(alert.annotations)),
                ])
            ))
        var event: [(String, JSONValue)] = [
            ("routing_key", .string(routingKey.value)),
            ("event_action", "trigger"),
            ("dedup_key", .string(alert.fingerprint)),
            ("payload", .object(payload)),
            ("client", "evald"),
        ]
        if let runbook = alert.annotations["runbook_url"], runbook.lowercased().hasPrefix("http") {
            event.append(("links", .array([.object([("href", .string(runbook)), ("text", "Runbook")])])))
        }
        return bytes(.object(event))
    }

    static func pagerDutySeverity(_ severity: AlertSeverity) -> String {
        switch severity {
        case .critical: "critical"
        case .warning: "warning"
        case .info: "info"
        }
    }
}
