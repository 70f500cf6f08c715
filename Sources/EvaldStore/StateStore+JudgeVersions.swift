import EvaldCore
import Foundation
import GRDB

/// A judge that started answering with a new version of itself (its reply's model or system
/// fingerprint): its series start afresh from there, and stored traces are judged again.
public struct JudgeSwitch: Sendable, Equatable {
    public var id: Int64
    public var judgeName: String
    /// The rubric identity the switch was seen with (and the rechecks use).
    public var identity: String
    public var versionBefore: String
    public var versionAfter: String
    public var at: Date
    /// The judge_feed position of the first verdict of the new version.
    public var feedSeq: Int64
}

/// A stored trace waiting to be judged again by a judge's new version.
public struct PendingRecheck: Sendable, Hashable {
    public var switchID: Int64
    public var evaluationID: Int64
    public var judgeName: String
    public var identity: String
    public var attempts: Int
    public var recordJSON: String

    /// Apart from the trace's own judgement, so both may be in flight at once.
    public var key: JudgementKey { JudgementKey(evaluationID: evaluationID, judgeName: "recheck#\(switchID)#\(judgeName)") }
}

/// The old and the new verdict on one trace.
public struct RecheckPair: Sendable, Equatable {
    public var evaluationID: Int64
    public var oldScore: Double
    public var oldPassed: Bool
    public var newScore: Double
    public var newPassed: Bool
}

/// Where a switch's rechecks stand.
public struct RecheckProgress: Sendable, Equatable {
    public var pending: Int
    /// Rechecks that could not be scored (judge error, trace pruned): left out of the pairs.
    public var failed: Int
    public var pairs: [RecheckPair]
}

extension StateStore {
    /// Migration v12-judge-versions.
    static let judgeVersionsSchema = """
        -- The judge's own version (its reply's model and system fingerprint) per verdict.
        ALTER TABLE judge_verdict ADD COLUMN judge_version_id INTEGER;

        -- Every version each judge answered with; the first answer of one not seen before is a switch.
        CREATE TABLE judge_version (
            judge_name TEXT NOT NULL,
            version TEXT NOT NULL,
            first_seen_at REAL NOT NULL,
            switch_id INTEGER,
            PRIMARY KEY (judge_name, version)
        ) WITHOUT ROWID;

        CREATE TABLE judge_switch (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            judge_name TEXT NOT NULL,
            identity TEXT NOT NULL,
            version_before TEXT NOT NULL,
            version_after TEXT NOT NULL,
            at REAL NOT NULL,
            feed_seq INTEGER NOT NULL
        );

        -- Stored traces judged again by the new version, the old verdict kept beside the new.
        CREATE TABLE judge_recheck (
            switch_id INTEGER NOT NULL REFERENCES judge_switch(id) ON DELETE CASCADE,
            evaluation_id INTEGER NOT NULL,
            old_score REAL NOT NULL,
            old_passed INTEGER NOT NULL,
            new_score REAL,
            new_passed INTEGER,
            new_version TEXT,
            error_kind TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            not_before REAL NOT NULL DEFAULT 0,
            done_at REAL,
            PRIMARY KEY (switch_id, evaluation_id)
        ) WITHOUT ROWID;
        CREATE INDEX judge_recheck_pending ON judge_recheck(not_before) WHERE done_at IS NULL;
        """

    /// Records a scored verdict's judge version; the first answer of a version not seen before
    /// for a judge that had another is a switch, and queues the previous version's latest
    /// `recheckSample` verdicts of the same rubric identity to be judged again.
    static func noteJudgeVersion(
        _ db: Database, _ verdict: JudgeVerdictRecord, version: String, feedSeq: Int64, recheckSample: Int, writer: inout CompactWriter
    ) throws {
        let versionID = try writer.textID(version) as Int64
        let identityID = try writer.textID(verdict.identity) as Int64
        try db.execute(
            sql: "UPDATE judge_verdict SET judge_version_id = ? WHERE evaluation_id = ? AND judge_id = ?",
            arguments: [versionID, verdict.evaluationID, identityID])
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM judge_version WHERE judge_name = ? AND version = ?", arguments: [verdict.judgeName, version]) == true {
            return
        }
        let at = verdict.judgedAt.timeIntervalSince1970
        let before = try String.fetchOne(
            db, sql: "SELECT version FROM judge_version WHERE judge_name = ? ORDER BY first_seen_at DESC LIMIT 1", arguments: [verdict.judgeName])
        var switchID: Int64?
        if let before {
            try db.execute(
                sql: """
                    INSERT INTO judge_switch (judge_name, identity, version_before, version_after, at, feed_seq) VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [verdict.judgeName, verdict.identity, before, version, at, feedSeq])
            switchID = db.lastInsertedRowID
            if recheckSample > 0, let beforeID = try Int64.fetchOne(db, sql: "SELECT id FROM text_value WHERE value = ?", arguments: [before]) {
                try db.execute(
                    sql: """
                        INSERT INTO judge_recheck (switch_id, evaluation_id, old_score, old_passed)
                        SELECT ?, evaluation_id, score, passed FROM judge_verdict
                        WHERE judge_id = ? AND judge_version_id = ? AND score IS NOT NULL
                        ORDER BY evaluation_id DESC LIMIT ?
                        """, arguments: [switchID, identityID, beforeID, recheckSample])
            }
        }
        try db.execute(
            sql: "INSERT INTO judge_version (judge_name, version, first_seen_at, switch_id) VALUES (?, ?, ?, ?)",
            arguments: [verdict.judgeName, version, at, switchID])
    }

    /// Switches recorded after `after`, in order.
    public func judgeSwitches(after: Int64) throws -> [JudgeSwitch] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT id, judge_name, identity, version_before, version_after, at, feed_seq FROM judge_switch WHERE id > ? ORDER BY id",
                arguments: [after]
            ).map { row in
                JudgeSwitch(
                    id: row["id"], judgeName: row["judge_name"], identity: row["identity"], versionBefore: row["version_before"],
                    versionAfter: row["version_after"], at: Date(timeIntervalSince1970: row["at"]), feedSeq: row["feed_seq"])
            }
        }
    }

    /// One switch by id.
    public func judgeSwitch(id: Int64) throws -> JudgeSwitch? {
        try judgeSwitches(after: id - 1).first { $0.id == id }
    }

    /// Rechecks that are due, for judges that may run now.
    public func dueRechecks(limit: Int, now: Date, judges: [String], excluding inFlight: Set<JudgementKey>) throws -> [PendingRecheck] {
        guard !judges.isEmpty, limit > 0 else { return [] }
        return try read { db in
            let placeholders = Array(repeating: "?", count: judges.count).joined(separator: ",")
            var arguments: [any DatabaseValueConvertible] = [now.timeIntervalSince1970]
            arguments += judges
            arguments.append(limit + inFlight.count)
            var due: [PendingRecheck] = []
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT r.switch_id, r.evaluation_id, r.attempts, s.judge_name, s.identity,
                           e.trace_id, e.record, e.dictionary_id, e.record_form
                    FROM judge_recheck r JOIN judge_switch s ON s.id = r.switch_id JOIN evaluation_data e ON e.id = r.evaluation_id
                    WHERE r.done_at IS NULL AND r.not_before <= ? AND s.judge_name IN (\(placeholders))
                    ORDER BY r.switch_id, r.evaluation_id LIMIT ?
                    """, arguments: StatementArguments(arguments))
            {
                let pending = PendingRecheck(
                    switchID: row["switch_id"], evaluationID: row["evaluation_id"], judgeName: row["judge_name"], identity: row["identity"],
                    attempts: row["attempts"], recordJSON: try RecordDictionaries.json(db, row, cache: recordDictionaries))
                if inFlight.contains(pending.key) { continue }
                due.append(pending)
                if due.count == limit { break }
            }
            return due
        }
    }

    /// Stores a recheck's new verdict (or why it has none) and the tokens it cost.
    public func storeRecheck(
        _ pending: PendingRecheck, score: Double?, passed: Bool?, version: String?, errorKind: String?, endpoint: String, tokens: Int, at: Date
    ) throws {
        try write { db in
            try db.execute(
                sql: """
                    UPDATE judge_recheck SET new_score = ?, new_passed = ?, new_version = ?, error_kind = ?, attempts = attempts + 1, done_at = ?
                    WHERE switch_id = ? AND evaluation_id = ? AND done_at IS NULL
                    """, arguments: [score, passed, version, errorKind, at.timeIntervalSince1970, pending.switchID, pending.evaluationID])
            if tokens > 0 {
                try db.execute(
                    sql: """
                        INSERT INTO judge_token_usage (endpoint, day, tokens) VALUES (?, ?, ?)
                        ON CONFLICT(endpoint, day) DO UPDATE SET tokens = tokens + excluded.tokens
                        """, arguments: [endpoint, Self.budgetDay(at), Int64(tokens)])
            }
            try Self.add(db, ["judge_rechecked": 1])
        }
    }

    /// Puts a recheck back for later (the endpoint is down).
    public func deferRecheck(_ pending: PendingRecheck, until: Date) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE judge_recheck SET attempts = attempts + 1, not_before = ? WHERE switch_id = ? AND evaluation_id = ?",
                arguments: [until.timeIntervalSince1970, pending.switchID, pending.evaluationID])
        }
    }

    /// A switch's rechecks: how many wait, how many failed, and the pairs scored both ways.
    /// A recheck whose trace retention removed counts as failed.
    public func recheckProgress(switchID: Int64) throws -> RecheckProgress {
        try read { db in
            var progress = RecheckProgress(pending: 0, failed: 0, pairs: [])
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT r.evaluation_id, r.old_score, r.old_passed, r.new_score, r.new_passed, r.done_at,
                           EXISTS (SELECT 1 FROM evaluation_data e WHERE e.id = r.evaluation_id) AS stored
                    FROM judge_recheck r WHERE r.switch_id = ? ORDER BY r.evaluation_id
                    """, arguments: [switchID])
            {
                let done: Double? = row["done_at"]
                let stored: Bool = row["stored"]
                if done == nil {
                    if stored { progress.pending += 1 } else { progress.failed += 1 }
                    continue
                }
                guard let newScore: Double = row["new_score"], let newPassed: Bool = row["new_passed"] else {
                    progress.failed += 1
                    continue
                }
                progress.pairs.append(
                    RecheckPair(
                        evaluationID: row["evaluation_id"], oldScore: row["old_score"], oldPassed: row["old_passed"], newScore: newScore,
                        newPassed: newPassed))
            }
            return progress
        }
    }
}
