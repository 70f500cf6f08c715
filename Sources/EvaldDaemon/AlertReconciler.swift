import EvaldCore
import EvaldStore
import Foundation
import Logging

/// Brings the open alerts of some names in line with the conditions that hold now: fires what
/// is new, resolves what has cleared; the outbox does the rest. Used by the alerts that are a
/// state rather than an event (evald's own health, budgets).
struct AlertReconciler {
    let store: StateStore
    let builder: AlertBuilder
    let logger: Logger

    /// - Returns: how many alerts it fired.
    @discardableResult
    func reconcile(names: Set<String>, wanted firings: [AlertFiring], at: Date) throws -> Int {
        let wanted = Dictionary(firings.map { ($0.fingerprint, $0) }, uniquingKeysWith: { a, _ in a })
        let open = try store.alerts(includeResolved: false).filter { names.contains($0.name) }
        for alert in open where wanted[alert.fingerprint] == nil {
            try store.resolveAlert(id: alert.id, receivers: builder.receiverNames(alert.severity), at: at)
            logger.info("alerts.resolved", metadata: ["alert": "\(alert.publicID)", "alertname": "\(alert.name)"])
        }
        let openFingerprints = Set(open.map(\.fingerprint))
        var fired = 0
        for firing in firings where !openFingerprints.contains(firing.fingerprint) && wanted[firing.fingerprint] != nil {
            let severity = AlertSeverity(rawValue: firing.severity) ?? .warning
            if let alert = try store.fireAlert(firing, receivers: builder.receiverNames(severity), at: at) {
                fired += 1
                logger.warning(
                    "alerts.firing",
                    metadata: ["alert": "\(alert.publicID)", "alertname": "\(alert.name)", "summary": "\(firing.annotations["summary"] ?? "")"])
            }
        }
        return fired
    }
}
