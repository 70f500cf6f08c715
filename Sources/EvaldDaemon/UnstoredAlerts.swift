import EvaldAlerting
import EvaldCore
import Foundation
import Synchronization

/// Health alerts that fired while the state database refused writes (a full disk): they
/// cannot go through the outbox, so they are sent from memory, one attempt per receiver each
/// health round until it takes them. Once a write works the alert is stored (its outbox entries
/// only for the receivers that have not heard it) and the outbox takes over. Lost if evald
/// stops before that: nothing is stored to send them from.
final class UnstoredAlerts: Sendable {
    struct Entry: Sendable {
        var firing: AlertFiring
        var firedAt: Date
        /// Receivers that took the firing notification.
        var heardFiring: Set<String> = []
        /// Set once the condition cleared while the store still refused writes: the resolution
        /// is sent from memory too.
        var resolvedAt: Date?
        var heardResolved: Set<String> = []
    }

    private let entries = Mutex<[String: Entry]>([:])

    var isEmpty: Bool { entries.withLock { $0.isEmpty } }

    subscript(fingerprint: String) -> Entry? { entries.withLock { $0[fingerprint] } }

    var all: [Entry] { entries.withLock { $0.values.sorted { $0.firedAt < $1.firedAt } } }

    func add(_ firing: AlertFiring, at: Date) {
        entries.withLock { $0[firing.fingerprint] = $0[firing.fingerprint] ?? Entry(firing: firing, firedAt: at) }
    }

    func remove(_ fingerprint: String) { entries.withLock { $0[fingerprint] = nil } }

    func resolve(_ fingerprint: String, at: Date) {
        entries.withLock { if $0[fingerprint]?.resolvedAt == nil { $0[fingerprint]?.resolvedAt = at } }
    }

    func heard(_ fingerprint: String, receiver: String, event: AlertNotification.Event) {
        entries.withLock {
            if event == .resolved { $0[fingerprint]?.heardResolved.insert(receiver) } else { $0[fingerprint]?.heardFiring.insert(receiver) }
        }
    }

    /// The alert as receivers see it; it has no store id yet.
    static func alert(_ entry: Entry) -> Alert {
        Alert(
            id: "a-unstored", name: entry.firing.name, severity: AlertSeverity(rawValue: entry.firing.severity) ?? .warning,
            labels: entry.firing.labels, annotations: entry.firing.annotations,
            state: entry.resolvedAt == nil ? .firing : .resolved, startsAt: entry.firedAt, endsAt: entry.resolvedAt)
    }
}
