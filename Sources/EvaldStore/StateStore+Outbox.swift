import Foundation
import GRDB

/// The two outboxes delivery sends from: alert notifications (`outbox`) and scheduled reports
/// (`report_outbox`). Their rows share the delivery columns (`attempts`, `next_attempt_at`,
/// `sent_at`, `gave_up_at`, `last_error`), so one set of methods records every outcome; what
/// differs is the table and the database counters each outcome moves.
public enum OutboxKind: String, Sendable, CaseIterable {
    case notification
    case report

    var table: String {
        switch self {
        case .notification: "outbox"
        case .report: "report_outbox"
        }
    }

    var sentCounters: KeyValuePairs<String, Int64> {
        switch self {
        case .notification: ["notifications_sent": 1]
        case .report: ["reports_sent": 1]
        }
    }

    var retryCounters: KeyValuePairs<String, Int64> {
        switch self {
        case .notification: ["notifications_failed": 1]
        case .report: ["reports_retried": 1]
        }
    }

    var giveUpCounters: KeyValuePairs<String, Int64> {
        switch self {
        case .notification: ["notifications_failed": 1, "notifications_given_up": 1]
        case .report: ["reports_given_up": 1]
        }
    }
}

extension StateStore {
    /// Whether a row is still to be sent: checked right before sending.
    public func outboxPending(_ kind: OutboxKind, id: Int64) throws -> Bool {
        try read { db in
            try Bool.fetchOne(
                db, sql: "SELECT sent_at IS NULL AND gave_up_at IS NULL FROM \(kind.table) WHERE id = ?", arguments: [id])
                ?? false
        }
    }

    /// Rows waiting to be sent (not sent, not given up).
    public func outboxPendingCount(_ kind: OutboxKind) throws -> Int {
        try read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(kind.table) WHERE sent_at IS NULL AND gave_up_at IS NULL") ?? 0
        }
    }

    /// Records a delivery the receiver acknowledged (2xx). Returns false when it was already
    /// recorded, which the caller takes as "do not count it twice".
    @discardableResult
    public func markOutboxSent(_ kind: OutboxKind, id: Int64, at: Date) throws -> Bool {
        try write { db in
            try db.execute(
                sql: "UPDATE \(kind.table) SET sent_at = ?, attempts = attempts + 1 WHERE id = ? AND sent_at IS NULL",
                arguments: [at.timeIntervalSince1970, id])
            guard db.changesCount == 1 else { return false }
            try Self.add(db, kind.sentCounters)
            return true
        }
    }

    /// Records a failed attempt worth repeating at `next`.
    public func retryOutbox(_ kind: OutboxKind, id: Int64, at next: Date, error: String) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE \(kind.table) SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?",
                arguments: [next.timeIntervalSince1970, error, id])
            try Self.add(db, kind.retryCounters)
        }
    }

    /// Stops trying a row; counted as given up unless it was only skipped (a notification below
    /// the receiver's min_severity), and only when it was still to be sent.
    public func giveUpOutbox(_ kind: OutboxKind, id: Int64, at: Date, error: String, countAsFailure: Bool = true) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE \(kind.table) SET attempts = attempts + 1, gave_up_at = ?, last_error = ? WHERE id = ? AND sent_at IS NULL",
                arguments: [at.timeIntervalSince1970, error, id])
            if countAsFailure, db.changesCount == 1 { try Self.add(db, kind.giveUpCounters) }
        }
    }
}
