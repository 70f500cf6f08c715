import EvaldCore
import Foundation
import GRDB

/// One scheduled report waiting for (or done with) one receiver.
public struct ReportOutboxEntry: Sendable, Equatable {
    public var id: Int64
    public var receiver: String
    public var periodStart: Date
    public var periodEnd: Date
    /// Nil when the stored report cannot be read (written by another version of evald):
    /// delivery gives such a row up rather than leave it pending forever.
    public var report: ScheduledReport?
    public var createdAt: Date
    public var attempts: Int
}

/// Where one period's report stands with one receiver.
public struct ReportDelivery: Sendable, Equatable {
    public enum State: String, Sendable {
        case pending, sent
        case givenUp = "given_up"
    }

    public var receiver: String
    public var periodStart: Date
    public var periodEnd: Date
    public var attempts: Int
    public var sentAt: Date?
    public var gaveUpAt: Date?
    /// When delivery tries again, while pending.
    public var nextAttemptAt: Date

    public var state: State { sentAt != nil ? .sent : gaveUpAt != nil ? .givenUp : .pending }
}

extension StateStore {
    /// Scheduled reports (SPEC 7b): a row per (period, receiver), unique, so a report is queued
    /// once per period whatever restarts; the report is stored as built, so retries send the
    /// same numbers. `report_schedule` remembers when a schedule was first seen: periods that
    /// ended before it are not sent, except the one just before, when it had calls.
    static let reportSchema = """
        CREATE TABLE report_outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            period_start REAL NOT NULL,
            period_end REAL NOT NULL,
            receiver TEXT NOT NULL,
            report_json TEXT NOT NULL,
            created_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            sent_at REAL,
            gave_up_at REAL,
            last_error TEXT,
            UNIQUE (period_end, receiver)
        );
        CREATE INDEX report_outbox_pending ON report_outbox(next_attempt_at) WHERE sent_at IS NULL AND gave_up_at IS NULL;
        CREATE TABLE report_schedule (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            first_seen REAL NOT NULL
        );
        """

    /// When the report schedule was first seen; records `now` the first time.
    public func reportScheduleFirstSeen(now: Date) throws -> Date {
        try write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO report_schedule (id, first_seen) VALUES (1, ?)", arguments: [now.timeIntervalSince1970])
            return Date(timeIntervalSince1970: try Double.fetchOne(db, sql: "SELECT first_seen FROM report_schedule WHERE id = 1") ?? now.timeIntervalSince1970)
        }
    }

    /// The end of the newest period queued for any receiver (nil before the first report).
    public func newestQueuedReportEnd() throws -> Date? {
        try read { db in
            try Double.fetchOne(db, sql: "SELECT MAX(period_end) FROM report_outbox").map(Date.init(timeIntervalSince1970:))
        }
    }

    /// Queues the report for each receiver not already holding it; returns how many were queued.
    @discardableResult
    public func enqueueReport(_ report: ScheduledReport, receivers: [String], now: Date) throws -> Int {
        let json = String(decoding: try Self.reportEncoder.encode(report), as: UTF8.self)
        return try write { db in
            var queued = 0
            for receiver in receivers {
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO report_outbox (period_start, period_end, receiver, report_json, created_at, next_attempt_at)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        report.periodStart.timeIntervalSince1970, report.periodEnd.timeIntervalSince1970, receiver, json,
                        now.timeIntervalSince1970, now.timeIntervalSince1970,
                    ])
                queued += db.changesCount
            }
            return queued
        }
    }

    /// Reports due now, oldest period first.
    public func dueReports(now: Date, limit: Int) throws -> [ReportOutboxEntry] {
        // Read every second by delivery: a read, not a write transaction (the writer is ingest's).
        let rows = try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM report_outbox WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= ?
                    ORDER BY period_end, id LIMIT ?
                    """, arguments: [now.timeIntervalSince1970, limit])
        }
        return rows.map { row in
            let json: String = row["report_json"]
            return ReportOutboxEntry(
                id: row["id"], receiver: row["receiver"], periodStart: Date(timeIntervalSince1970: row["period_start"]),
                periodEnd: Date(timeIntervalSince1970: row["period_end"]),
                report: try? Self.reportDecoder.decode(ScheduledReport.self, from: Data(json.utf8)),
                createdAt: Date(timeIntervalSince1970: row["created_at"]), attempts: row["attempts"])
        }
    }

    /// Deletes reports settled (sent or given up) before `cutoff`, keeping each receiver's
    /// newest; returns how many.
    @discardableResult
    public func pruneReportOutbox(settledBefore cutoff: Date) throws -> Int {
        try write { db in
            try db.execute(
                sql: """
                    DELETE FROM report_outbox WHERE COALESCE(sent_at, gave_up_at) < ?
                      AND id NOT IN (SELECT MAX(id) FROM report_outbox GROUP BY receiver)
                    """, arguments: [cutoff.timeIntervalSince1970])
            return db.changesCount
        }
    }

    /// What was queued for each period and receiver, newest first.
    public func reportDeliveries(limit: Int = 20) throws -> [ReportDelivery] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM report_outbox ORDER BY period_end DESC, receiver LIMIT ?", arguments: [limit])
                .map(Self.reportDelivery)
        }
    }

    /// Each receiver's newest period queued, by receiver name (`evald status`).
    public func newestReportDeliveries() throws -> [ReportDelivery] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM report_outbox r
                    WHERE r.id = (SELECT id FROM report_outbox WHERE receiver = r.receiver ORDER BY period_end DESC, id DESC LIMIT 1)
                    ORDER BY r.receiver
                    """
            ).map(Self.reportDelivery)
        }
    }

    static func reportDelivery(_ row: Row) -> ReportDelivery {
        func date(_ column: String) -> Date? { (row[column] as Double?).map(Date.init(timeIntervalSince1970:)) }
        return ReportDelivery(
            receiver: row["receiver"], periodStart: Date(timeIntervalSince1970: row["period_start"]),
            periodEnd: Date(timeIntervalSince1970: row["period_end"]), attempts: row["attempts"], sentAt: date("sent_at"),
            gaveUpAt: date("gave_up_at"), nextAttemptAt: Date(timeIntervalSince1970: row["next_attempt_at"]))
    }

    private static var reportEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = .sortedKeys
        return encoder
    }

    private static var reportDecoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }
}
