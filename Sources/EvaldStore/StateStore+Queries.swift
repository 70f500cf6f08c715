import EvaldCore
import Foundation
import GRDB

/// A quarantined line as `evald spool quarantine` shows it.
public struct QuarantineEntry: Sendable, Equatable {
    public var id: Int64
    public var filePath: String
    public var lineOffset: Int64
    public var lineBytes: Int64
    public var reason: String
    public var detail: String
    public var excerpt: Data
    public var quarantinedAt: Date
}

/// The daemon's last sign of life.
public struct DaemonHeartbeat: Sendable, Equatable {
    public var pid: Int32
    public var hostname: String
    public var startedAt: Date
    public var heartbeatAt: Date
    public var stoppedAt: Date?
    public var version: String
    /// `daemon`, or `once` for `evald run --once`.
    public var mode: String = "daemon"
    /// A one-shot run's progress as JSON (stage, counts), updated as it goes.
    public var progressJSON: String?
}

/// A sampled record as stored (the columns tests and queries need).
public struct StoredEvaluation: Sendable, Equatable {
    public var id: Int64
    public var recordID: String
    public var traceID: String
    public var route: String?
    public var model: String
    public var sampleRate: Double
    public var fileID: Int64
    public var lineOffset: Int64
}

extension StateStore {
    public func counters() throws -> [String: Int64] {
        try read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT name, value FROM counter").map { ($0["name"] as String, $0["value"] as Int64) })
        }
    }

    public func quarantine(limit: Int, reason: String? = nil) throws -> (entries: [QuarantineEntry], total: Int) {
        try read { db in
            let filter = reason == nil ? "" : "WHERE reason = ?"
            let arguments: StatementArguments = reason.map { [$0] } ?? []
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM quarantine \(filter)", arguments: arguments) ?? 0
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, file_path, line_offset, line_bytes, reason, detail, excerpt, quarantined_at
                    FROM quarantine \(filter) ORDER BY id DESC LIMIT ?
                    """, arguments: arguments + [limit])
            let entries = rows.map { row in
                QuarantineEntry(
                    id: row["id"], filePath: row["file_path"], lineOffset: row["line_offset"], lineBytes: row["line_bytes"],
                    reason: row["reason"], detail: row["detail"], excerpt: row["excerpt"],
                    quarantinedAt: Date(timeIntervalSince1970: row["quarantined_at"]))
            }
            return (entries, total)
        }
    }

    public func recordHeartbeat(
        pid: Int32, hostname: String, startedAt: Date, at: Date, version: String, mode: String = "daemon", progressJSON: String? = nil
    ) throws {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO daemon_heartbeat (id, pid, hostname, started_at, heartbeat_at, stopped_at, version, mode, progress_json)
                    VALUES (1, ?, ?, ?, ?, NULL, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET pid = excluded.pid, hostname = excluded.hostname, started_at = excluded.started_at,
                        heartbeat_at = excluded.heartbeat_at, stopped_at = NULL, version = excluded.version, mode = excluded.mode,
                        progress_json = excluded.progress_json
                    """, arguments: [pid, hostname, startedAt.timeIntervalSince1970, at.timeIntervalSince1970, version, mode, progressJSON])
        }
    }

    /// A one-shot run's sign of life: its heartbeat time and progress, for `evald status`.
    public func recordOnceProgress(pid: Int32, at: Date, progressJSON: String) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE daemon_heartbeat SET heartbeat_at = ?, progress_json = ? WHERE id = 1 AND pid = ? AND mode = 'once'",
                arguments: [at.timeIntervalSince1970, progressJSON, pid])
        }
    }

    public func recordStop(pid: Int32, at: Date) throws {
        try write { db in
            try db.execute(sql: "UPDATE daemon_heartbeat SET stopped_at = ? WHERE id = 1 AND pid = ?", arguments: [at.timeIntervalSince1970, pid])
        }
    }

    public func heartbeat() throws -> DaemonHeartbeat? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM daemon_heartbeat WHERE id = 1").map { row in
                DaemonHeartbeat(
                    pid: Int32(row["pid"] as Int64), hostname: row["hostname"],
                    startedAt: Date(timeIntervalSince1970: row["started_at"]),
                    heartbeatAt: Date(timeIntervalSince1970: row["heartbeat_at"]),
                    stoppedAt: (row["stopped_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                    version: row["version"], mode: row["mode"] ?? "daemon", progressJSON: row["progress_json"])
            }
        }
    }

    public func evaluations() throws -> [StoredEvaluation] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, record_id, trace_id, route, model, sample_rate, file_id, line_offset FROM evaluation ORDER BY id").map {
                row in
                StoredEvaluation(
                    id: row["id"], recordID: row["record_id"], traceID: row["trace_id"], route: row["route"],
                    model: row["model"], sampleRate: row["sample_rate"], fileID: row["file_id"], lineOffset: row["line_offset"])
            }
        }
    }

    public func journalMode() throws -> String {
        try read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    /// The stored record (native JSON) of an evaluation.
    public func recordJSON(evaluationID: Int64) throws -> String? {
        try read { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT trace_id, record, dictionary_id, record_form FROM evaluation_data WHERE id = ?", arguments: [evaluationID])
            else {
                return nil
            }
            return try RecordDictionaries.json(db, row, cache: recordDictionaries)
        }
    }

    public func evaluationCount() throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM evaluation_data") ?? 0 }
    }
}

/// One stored evaluation with where it came from, for `evald explain`.
public struct EvaluationDetail: Sendable {
    public var id: Int64
    public var recordID: String
    public var traceID: String
    public var timestamp: Date
    public var route: String?
    public var model: String
    public var responseModel: String?
    public var systemFingerprint: String?
    public var promptVersion: String?
    public var status: String
    public var error: String?
    public var latencyMs: Double?
    public var costUSD: Double?
    public var sampleRate: Double
    public var filePath: String?
    public var lineOffset: Int64
    public var recordJSON: String
}

/// A judgement still waiting in the queue.
public struct QueuedJudgement: Sendable, Equatable {
    public var judgeName: String
    public var enqueuedAt: Date
    public var attempts: Int
    public var lastError: String?
}

extension StateStore {
    public func evaluationDetail(id: Int64) throws -> EvaluationDetail? {
        try read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT e.*, f.path AS file_path FROM evaluation e LEFT JOIN spool_file f ON f.id = e.file_id WHERE e.id = ?
                        """, arguments: [id])
            else { return nil }
            let json = try RecordDictionaries.json(db, row, cache: recordDictionaries)
            return EvaluationDetail(
                id: row["id"], recordID: row["record_id"], traceID: row["trace_id"],
                timestamp: Date(timeIntervalSince1970: row["ts"]), route: row["route"], model: row["model"],
                responseModel: row["response_model"], systemFingerprint: row["system_fingerprint"],
                promptVersion: row["prompt_version"], status: row["status"], error: row["error"],
                latencyMs: row["latency_ms"], costUSD: row["cost_usd"], sampleRate: row["sample_rate"],
                filePath: row["file_path"], lineOffset: row["line_offset"], recordJSON: json)
        }
    }

    /// Evaluations of a trace (by trace id or record id), newest first.
    public func evaluationIDs(traceOrRecordID id: String) throws -> [Int64] {
        try read { db in
            // The trace id is indexed; a record id is the trace id, or starts with it and ':'
            // (OTLP spans); any other record id is searched without an index.
            let traceID = id.split(separator: ":", maxSplits: 1).first.map(String.init) ?? id
            let ids = try Int64.fetchAll(
                db,
                sql:
                    "SELECT id FROM evaluation WHERE id IN (SELECT id FROM evaluation_data WHERE substr(trace_id, 1, 8) = substr(?, 1, 8)) AND (trace_id = ? OR record_id = ?) ORDER BY id DESC",
                arguments: [TraceIDCoding.stored(traceID), id, id])
            if !ids.isEmpty { return ids }
            return try Int64.fetchAll(
                db,
                sql: "SELECT id FROM evaluation WHERE record_id = ? AND id IN (SELECT id FROM evaluation_data WHERE record_id IS NOT NULL) ORDER BY id DESC",
                arguments: [id])
        }
    }

    public func queuedJudgements(evaluationID: Int64) throws -> [QueuedJudgement] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT judge_name, enqueued_at, attempts, last_error FROM judge_queue WHERE evaluation_id = ? ORDER BY judge_name",
                arguments: [evaluationID]
            ).map {
                QueuedJudgement(
                    judgeName: $0["judge_name"], enqueuedAt: Date(timeIntervalSince1970: $0["enqueued_at"]),
                    attempts: $0["attempts"], lastError: $0["last_error"])
            }
        }
    }
}
