import EvaldCore
import EvaldStore
import Foundation
import Logging

/// Brings the open alerts of some names in line with the conditions that hold now: fires what
/// is new, resolves what has cleared; the outbox does the rest. Used by the alerts that are a
/// state rather than an event (evald's own health, budgets). A write that fails (a full disk)
/// never stops the round: a resolution is tried again next round, and a firing either goes to
/// `unstored` (sent from memory, stored once a write works) or is tried again next round.
struct AlertReconciler {
    let store: StateStore
    let builder: AlertBuilder
    let logger: Logger
    /// Alerts the store refused, sent from memory (`HealthAlertService`: StateStoreFailing must
    /// reach someone when the database cannot be written).
    var unstored: UnstoredAlerts?

    /// - Returns: how many alerts it fired.
    @discardableResult
    func reconcile(names: Set<String>, wanted firings: [AlertFiring], at: Date) throws -> Int {
        let wanted = Dictionary(firings.map { ($0.fingerprint, $0) }, uniquingKeysWith: { a, _ in a })
        let open = try store.alerts(includeResolved: false).filter { names.contains($0.name) }
        for alert in open where wanted[alert.fingerprint] == nil {
            do {
                try store.resolveAlert(id: alert.id, receivers: builder.receiverNames(alert.severity), at: at)
                logger.info("alerts.resolved", metadata: ["alert": "\(alert.publicID)", "alertname": "\(alert.name)"])
            } catch {
                logger.error("alerts.resolve_failed", metadata: ["alert": "\(alert.publicID)", "error": "\(error)", "action": "retried next round"])
            }
        }
        if let unstored { resolveUnstored(unstored, wanted: wanted, at: at) }
        let openFingerprints = Set(open.map(\.fingerprint))
        var fired = 0
        var seen = Set<String>()
        for firing in firings where !openFingerprints.contains(firing.fingerprint) && seen.insert(firing.fingerprint).inserted {
            let receivers = builder.receiverNames(AlertSeverity(rawValue: firing.severity) ?? .warning)
            if let unstored, let entry = unstored[firing.fingerprint] {
                // Sent from memory before: stored now if a write works, its outbox entries only
                // for the receivers that have not heard it.
                if (try? store.fireAlert(firing, receivers: receivers.filter { !entry.heardFiring.contains($0) }, at: entry.firedAt)) != nil {
                    unstored.remove(firing.fingerprint)
                    logger.info(
                        "alerts.stored_after_the_fact", metadata: ["alertname": "\(firing.name)", "heard_from_memory": "\(entry.heardFiring.sorted())"])
                }
                continue
            }
            let alert: StoredAlert?
            do {
                alert = try store.fireAlert(firing, receivers: receivers, at: at)
            } catch {
                guard let unstored else {
                    logger.error("alerts.fire_failed", metadata: ["alertname": "\(firing.name)", "error": "\(error)", "action": "retried next round"])
                    continue
                }
                // The outbox cannot be written either: send it from memory.
                unstored.add(firing, at: at)
                fired += 1
                logger.warning(
                    "alerts.firing",
                    metadata: [
                        "alertname": "\(firing.name)", "summary": "\(firing.annotations["summary"] ?? "")",
                        "stored": "no (\(error)); sending it from memory",
                    ])
                continue
            }
            if let alert {
                fired += 1
                logger.warning(
                    "alerts.firing",
                    metadata: ["alert": "\(alert.publicID)", "alertname": "\(alert.name)", "summary": "\(firing.annotations["summary"] ?? "")"])
            }
        }
        return fired
    }

    /// Alerts sent from memory whose condition cleared: stored with their resolution once a
    /// write works, else resolved from memory.
    private func resolveUnstored(_ unstored: UnstoredAlerts, wanted: [String: AlertFiring], at: Date) {
        for entry in unstored.all where wanted[entry.firing.fingerprint] == nil {
            do {
                try store.recordResolvedAlert(
                    entry.firing, firedAt: entry.firedAt, resolvedAt: entry.resolvedAt ?? at,
                    receivers: entry.heardFiring.subtracting(entry.heardResolved).sorted())
                unstored.remove(entry.firing.fingerprint)
                logger.info("alerts.resolved", metadata: ["alertname": "\(entry.firing.name)", "stored": "after the fact"])
            } catch {
                unstored.resolve(entry.firing.fingerprint, at: at)
            }
        }
    }
}
