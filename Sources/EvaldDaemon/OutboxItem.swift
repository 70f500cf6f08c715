import EvaldAlerting
import EvaldCore
import EvaldStore
import Foundation
import Logging
import Synchronization

/// One outbox row as the delivery step sees it: an alert notification or a scheduled report.
/// Backoff, Retry-After, `alerts.max_age` and give-up are the step's; an item says only which
/// outbox it is in and how to name it in the logs.
protocol OutboxItem: Sendable {
    static var kind: OutboxKind { get }
    var id: Int64 { get }
    var receiver: String { get }
    var createdAt: Date { get }
    var attempts: Int { get }
    /// Log fields naming the item: its alert and event, or its report's period.
    var logMetadata: Logger.Metadata { get }
}

extension OutboxEntry: OutboxItem {
    static var kind: OutboxKind { .notification }
    var logMetadata: Logger.Metadata { ["alert": "a-\(alertID)", "event": "\(event)"] }
}

extension ReportOutboxEntry: OutboxItem {
    static var kind: OutboxKind { .report }
    var logMetadata: Logger.Metadata {
        ["report.period": "\(RFC3339.format(periodStart, fractional: false))..\(RFC3339.format(periodEnd, fractional: false))"]
    }
}

/// What the delivery step does with an item it may send, decided right before sending.
enum OutboxSend: Sendable {
    /// One attempt through the receiver; returns the failure, nil on a 2xx.
    case send(Logger.Metadata, @Sendable (any AlertReceiver, Date) async -> DeliveryError?)
    /// Settled without sending, not a failure (a notification below the receiver's min_severity).
    case skip(reason: String)
    /// The row cannot be sent by this version (its report stored in another format, its alert
    /// gone): given up rather than left pending forever.
    case unreadable(reason: String)
}

/// How one attempt at an outbox item ended, for `/metrics`.
enum OutboxOutcome {
    case sent
    /// Failed in a way worth retrying; tried again later.
    case retried
    /// Failed in a way not worth retrying (the receiver refused it): given up.
    case rejected
    /// Given up without a failed attempt: too old, receiver removed, unreadable.
    case givenUp
}

extension OutboxKind {
    /// The log event of an outcome: `alerts.notification_sent`, `report.sent`, ...
    func event(_ outcome: String) -> Logger.Message {
        switch self {
        case .notification: "alerts.notification_\(outcome)"
        case .report: "report.\(outcome)"
        }
    }

    var writeFailedEvent: Logger.Message {
        switch self {
        case .notification: "alerts.outbox_write_failed"
        case .report: "report.outbox_write_failed"
        }
    }
}

/// In-memory notes that outlive a failed database write within this process; shared by the
/// round's per-receiver tasks.
final class HeldBack: Sendable {
    struct Key: Hashable {
        var kind: OutboxKind
        var id: Int64
    }

    private struct Notes {
        var acknowledgedAt: [Key: Date] = [:]
        var waitUntil: [Key: Date] = [:]
    }

    private let notes = Mutex(Notes())

    func acknowledge(_ key: Key, at: Date) { notes.withLock { $0.acknowledgedAt[key] = at } }
    func acknowledged(_ key: Key) -> Date? { notes.withLock { $0.acknowledgedAt[key] } }
    func wait(_ key: Key, until: Date) { notes.withLock { $0.waitUntil[key] = until } }
    func isWaiting(_ key: Key, now: Date) -> Bool { notes.withLock { ($0.waitUntil[key] ?? .distantPast) > now } }
    func clear(_ key: Key) {
        notes.withLock {
            $0.acknowledgedAt[key] = nil
            $0.waitUntil[key] = nil
        }
    }
}
