import EvaldCore
import Foundation

extension AlertPayloads {
    /// The body of Alertmanager API v2 `POST /api/v2/alerts` (`postableAlerts` in its
    /// OpenAPI spec): a JSON array of `{labels, annotations, startsAt, endsAt, generatorURL}`,
    /// every label and annotation value a string, times in RFC 3339.
    ///
    /// Firing: `endsAt = now + 4 * resendInterval`. Alertmanager resolves an alert whose
    /// `endsAt` has passed, so this keeps it active across three missed re-posts and lets it
    /// resolve by itself if evald dies, the rule Prometheus uses (`4 * max(resend_delay,
    /// evaluation_interval)`). Resolved: `endsAt` is the time it resolved, in the past, which
    /// resolves it at once.
    ///
    /// Labels with an empty value are left out: to Prometheus and Alertmanager an empty label
    /// is the same as no label.
    public static func alertmanager(_ alerts: [Alert], now: Date, resendInterval: Double, generatorURL: String) -> [UInt8] {
        let hold = resendInterval.isFinite ? max(0, resendInterval) * 4 : 0
        let items: [JSONValue] = alerts.map { alert in
            let endsAt: Date =
                switch alert.state {
                case .firing: now.addingTimeInterval(hold)
                case .resolved: alert.endsAt ?? now
                }
            return .object([
                ("labels", sortedObject(alert.labels.filter { !$0.value.isEmpty })),
                ("annotations", sortedObject(alert.annotations)),
                ("startsAt", .string(time(alert.startsAt))),
                ("endsAt", .string(time(endsAt))),
                ("generatorURL", .string(generatorURL)),
            ])
        }
        return bytes(.array(items))
    }
}
