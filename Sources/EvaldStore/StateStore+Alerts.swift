import EvaldCore
import Foundation
import GRDB

/// An alert as stored: one firing episode of a label set.
public struct StoredAlert: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var severity: String
    public var labels: [String: String]
    public var annotations: [String: String]
    public var fingerprint: String
    /// `firing` or `resolved`.
    public var state: String
    public var startedAt: Date
    public var resolvedAt: Date?

    /// The id the CLI shows and accepts (`a-17`).
    public var publicID: String { "a-\(id)" }
}

public struct AlertTransitionRecord: Sendable, Equatable {
    public var state: String
    public var at: Date
    public var numbers: [String: Double]
}

/// One notification in the outbox: an alert's state change (or a repeat) for one receiver.
public struct OutboxEntry: Sendable, Equatable {
    public var id: Int64
    public var alertID: Int64
    public var receiver: String
    /// `firing`, `resolved` or `repeat`.
    public var event: String
    public var createdAt: Date
    public var attempts: Int
}

extension StateStore {
    static let maxExamples = 5

    /// Stores a new firing alert, its first transition and one notification per receiver, in
    /// one transaction. Returns nil when an alert with these labels is already firing.
    public func fireAlert(_ firing: AlertFiring, receivers: [String], at: Date) throws -> StoredAlert? {
        try write { db in try Self.fire(db, firing, receivers: receivers, at: at) }
    }

    static func fire(_ db: Database, _ firing: AlertFiring, receivers: [String], at: Date) throws -> StoredAlert? {
        if try Int64.fetchOne(db, sql: "SELECT id FROM alert WHERE fingerprint = ? AND state = 'firing'", arguments: [firing.fingerprint]) != nil {
            return nil
        }
        let t = at.timeIntervalSince1970
        try db.execute(
            sql: """
                INSERT INTO alert (fingerprint, alertname, severity, labels_json, annotations_json, state, started_at, updated_at)
                VALUES (?, ?, ?, ?, ?, 'firing', ?, ?)
                """, arguments: [firing.fingerprint, firing.name, firing.severity, Self.encode(firing.labels), Self.encode(firing.annotations), t, t])
        let id = db.lastInsertedRowID
        try db.execute(
            sql: "INSERT INTO alert_transition (alert_id, state, at, numbers_json) VALUES (?, 'firing', ?, ?)",
            arguments: [id, t, Self.encode(firing.numbers)])
        for example in firing.examples.prefix(Self.maxExamples) {
            try db.execute(sql: "INSERT OR IGNORE INTO alert_example (alert_id, evaluation_id) VALUES (?, ?)", arguments: [id, example])
        }
        try Self.enqueue(db, alertID: id, receivers: receivers, event: "firing", at: t)
        try Self.add(db, ["alerts_fired": 1])
        return StoredAlert(
            id: id, name: firing.name, severity: firing.severity, labels: firing.labels, annotations: firing.annotations,
            fingerprint: firing.fingerprint, state: "firing", startedAt: at, resolvedAt: nil)
    }

    /// Records an alert that fired and resolved while it could not be stored (sent from memory
    /// during a full disk): its history, and resolved notifications for `receivers` (those that
    /// heard it fire), in one transaction. Nothing when an alert with its fingerprint fires.
    public func recordResolvedAlert(_ firing: AlertFiring, firedAt: Date, resolvedAt: Date, receivers: [String]) throws {
        try write { db in
            guard let stored = try Self.fire(db, firing, receivers: [], at: firedAt) else { return }
            _ = try Self.resolve(db, id: stored.id, receivers: receivers, numbers: [:], at: resolvedAt)
        }
    }

    /// Resolves a firing alert with the numbers that resolved it and queues the resolved
    /// notifications; false when it was not firing.
    @discardableResult
    public func resolveAlert(id: Int64, receivers: [String], numbers: [String: Double] = [:], at: Date) throws -> Bool {
        try write { db in try Self.resolve(db, id: id, receivers: receivers, numbers: numbers, at: at) }
    }

    static func resolve(_ db: Database, id: Int64, receivers: [String], numbers: [String: Double], at: Date) throws -> Bool {
        let t = at.timeIntervalSince1970
        try db.execute(
            sql: "UPDATE alert SET state = 'resolved', resolved_at = ?, updated_at = ? WHERE id = ? AND state = 'firing'",
            arguments: [t, t, id])
        guard db.changesCount == 1 else { return false }
        try db.execute(
            sql: "INSERT INTO alert_transition (alert_id, state, at, numbers_json) VALUES (?, 'resolved', ?, ?)",
            arguments: [id, t, Self.encode(numbers)])
        // A repeat not sent yet is moot once the resolution is on its way.
        try db.execute(
            sql:
                "UPDATE outbox SET gave_up_at = ?, last_error = 'superseded by the resolution' WHERE alert_id = ? AND event = 'repeat' AND sent_at IS NULL AND gave_up_at IS NULL",
            arguments: [t, id])
        try Self.enqueue(db, alertID: id, receivers: receivers, event: "resolved", at: t)
        try Self.add(db, ["alerts_resolved": 1])
        return true
    }

    /// Alerts, newest first: the firing ones, or all.
    public func alerts(includeResolved: Bool, limit: Int = 1000) throws -> [StoredAlert] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM alert \(includeResolved ? "" : "WHERE state = 'firing'") ORDER BY id DESC LIMIT ?",
                arguments: [limit]
            ).map(Self.alert)
        }
    }

    public func alert(id: Int64) throws -> StoredAlert? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM alert WHERE id = ?", arguments: [id]).map(Self.alert) }
    }

    public func alertTransitions(id: Int64) throws -> [AlertTransitionRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT state, at, numbers_json FROM alert_transition WHERE alert_id = ? ORDER BY id", arguments: [id]).map {
                AlertTransitionRecord(state: $0["state"], at: Date(timeIntervalSince1970: $0["at"]), numbers: Self.decodeNumbers($0["numbers_json"]))
            }
        }
    }

    public func alertExamples(id: Int64) throws -> [Int64] {
        try read { db in try Int64.fetchAll(db, sql: "SELECT evaluation_id FROM alert_example WHERE alert_id = ? ORDER BY evaluation_id", arguments: [id]) }
    }

    public func firingAlertCount() throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM alert WHERE state = 'firing'") ?? 0 }
    }

    // MARK: outbox

    /// Notifications due now, oldest first; one per (alert, receiver) at a time, so a receiver
    /// never hears "resolved" before the "firing" it follows.
    public func dueNotifications(now: Date, limit: Int) throws -> [OutboxEntry] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT o.* FROM outbox o
                    WHERE o.sent_at IS NULL AND o.gave_up_at IS NULL AND o.next_attempt_at <= ?
                      AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.alert_id = o.alert_id AND p.receiver = o.receiver AND p.id < o.id
                                      AND p.sent_at IS NULL AND p.gave_up_at IS NULL)
                    ORDER BY o.id LIMIT ?
                    """, arguments: [now.timeIntervalSince1970, limit]
            ).map(Self.outboxEntry)
        }
    }

    /// Deletes notifications settled (sent or given up) before `cutoff`, keeping the latest of
    /// each alert and receiver (the repeat schedule counts from it); returns how many.
    public func pruneOutbox(settledBefore cutoff: Date) throws -> Int {
        try write { db in
            try db.execute(
                sql: """
                    DELETE FROM outbox WHERE COALESCE(sent_at, gave_up_at) < ?
                      AND id NOT IN (SELECT MAX(id) FROM outbox GROUP BY alert_id, receiver)
                    """, arguments: [cutoff.timeIntervalSince1970])
            return db.changesCount
        }
    }

    /// A receiver as the repeat schedule sees it.
    public struct RepeatSchedule: Sendable {
        public var receiver: String
        public var interval: Double
        /// The severities it takes (its min_severity and above).
        public var severities: [String]
        public init(receiver: String, interval: Double, severities: [String]) {
            self.receiver = receiver
            self.interval = interval
            self.severities = severities
        }
    }

    /// Queues a notification for each firing alert and receiver that has none pending and
    /// whose last one is older than the receiver's interval: the repeats while firing, and the
    /// first notification for a receiver added while the alert was already firing. Returns how many.
    @discardableResult
    public func enqueueRepeats(_ schedules: [RepeatSchedule], now: Date) throws -> Int {
        try write { db in
            var queued = 0
            let t = now.timeIntervalSince1970
            for schedule in schedules where !schedule.severities.isEmpty {
                let placeholders = Array(repeating: "?", count: schedule.severities.count).joined(separator: ",")
                var arguments: [any DatabaseValueConvertible] = [schedule.receiver, t, t]
                arguments += schedule.severities
                arguments += [schedule.receiver, schedule.receiver, t - schedule.interval]
                try db.execute(
                    sql: """
                        INSERT INTO outbox (alert_id, receiver, event, created_at, next_attempt_at)
                        SELECT a.id, ?, 'repeat', ?, ? FROM alert a
                        WHERE a.state = 'firing' AND a.severity IN (\(placeholders))
                          AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.alert_id = a.id AND o.receiver = ? AND o.sent_at IS NULL AND o.gave_up_at IS NULL)
                          AND COALESCE((SELECT MAX(COALESCE(o.sent_at, o.gave_up_at, o.created_at)) FROM outbox o WHERE o.alert_id = a.id AND o.receiver = ?), 0) <= ?
                        """, arguments: StatementArguments(arguments))
                queued += db.changesCount
            }
            return queued
        }
    }

    /// The outbox of one alert, for tests and `evald explain`.
    public func notifications(alertID: Int64) throws -> [(entry: OutboxEntry, sentAt: Date?, gaveUpAt: Date?, lastError: String?)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE alert_id = ? ORDER BY id", arguments: [alertID]).map { row in
                (
                    Self.outboxEntry(row), (row["sent_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                    (row["gave_up_at"] as Double?).map(Date.init(timeIntervalSince1970:)), row["last_error"]
                )
            }
        }
    }

    static func enqueue(_ db: Database, alertID: Int64, receivers: [String], event: String, at t: Double) throws {
        for receiver in receivers {
            try db.execute(
                sql: "INSERT INTO outbox (alert_id, receiver, event, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [alertID, receiver, event, t, t])
        }
    }

    static func alert(_ row: Row) -> StoredAlert {
        StoredAlert(
            id: row["id"], name: row["alertname"], severity: row["severity"], labels: decodeStrings(row["labels_json"]),
            annotations: decodeStrings(row["annotations_json"]), fingerprint: row["fingerprint"], state: row["state"],
            startedAt: Date(timeIntervalSince1970: row["started_at"]),
            resolvedAt: (row["resolved_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }

    static func outboxEntry(_ row: Row) -> OutboxEntry {
        OutboxEntry(
            id: row["id"], alertID: row["alert_id"], receiver: row["receiver"], event: row["event"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]), attempts: row["attempts"])
    }

    static func encode(_ strings: [String: String]) -> String {
        JSONValue.object(strings.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }).serialized()
    }

    static func encode(_ numbers: [String: Double]) -> String {
        JSONValue.object(numbers.sorted { $0.key < $1.key }.map { ($0.key, .double($0.value)) }).serialized()
    }

    static func decodeStrings(_ text: String) -> [String: String] {
        guard case .object(let pairs)? = try? JSONParser.parse(text) else { return [:] }
        var result: [String: String] = [:]
        for (key, value) in pairs { result[key] = value.stringValue ?? value.serialized() }
        return result
    }

    static func decodeNumbers(_ text: String) -> [String: Double] {
        guard case .object(let pairs)? = try? JSONParser.parse(text) else { return [:] }
        var result: [String: Double] = [:]
        for (key, value) in pairs { if let n = value.numberValue { result[key] = n } }
        return result
    }
}
