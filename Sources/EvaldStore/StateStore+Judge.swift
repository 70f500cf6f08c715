import EvaldCore
import Foundation
import GRDB

/// A sampled trace waiting for one judge.
public struct PendingJudgement: Sendable, Hashable {
    public var evaluationID: Int64
    public var judgeName: String
    public var enqueuedAt: Date
    public var attempts: Int
    public var recordJSON: String

    public var key: JudgementKey { JudgementKey(evaluationID: evaluationID, judgeName: judgeName) }
}

public struct JudgementKey: Sendable, Hashable {
    public var evaluationID: Int64
    public var judgeName: String
    public init(evaluationID: Int64, judgeName: String) {
        self.evaluationID = evaluationID
        self.judgeName = judgeName
    }
}

/// A judge's verdict on one evaluation, as stored: a score, or a judge error.
public struct JudgeVerdictRecord: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case scored(score: Double, passed: Bool, reason: String?)
        /// Never a failing score: `kind` is short (`no_json`, `rejected`, ...), `excerpt` the reply's start.
        case failed(kind: String, message: String, excerpt: String?)
    }

    public var evaluationID: Int64
    public var judgeName: String
    public var identity: String
    public var endpoint: String
    public var outcome: Outcome
    public var judgeModel: String?
    public var inputTokens: Int
    public var outputTokens: Int
    public var latencyMs: Double?
    public var attempts: Int
    public var judgedAt: Date
    /// The judge's own version: its reply's model and system fingerprint
    /// (`ProviderVersionWatch.version`); a new one is a judge version switch.
    public var judgeVersion: String? = nil

    public init(
        evaluationID: Int64, judgeName: String, identity: String, endpoint: String, outcome: Outcome,
        judgeModel: String? = nil, inputTokens: Int = 0, outputTokens: Int = 0, latencyMs: Double? = nil,
        attempts: Int = 1, judgedAt: Date
    ) {
        self.evaluationID = evaluationID
        self.judgeName = judgeName
        self.identity = identity
        self.endpoint = endpoint
        self.outcome = outcome
        self.judgeModel = judgeModel
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.latencyMs = latencyMs
        self.attempts = attempts
        self.judgedAt = judgedAt
    }
}

/// What the daemon last reported about a judge, for `evald status`.
public struct JudgeStateRecord: Sendable, Equatable {
    public var judgeName: String
    public var identity: String
    public var endpoint: String?
    /// `running`, `paused` (circuit open, budget spent) or `skipped` (no endpoint).
    public var state: String
    public var reason: String?
    public var updatedAt: Date
    /// `EndpointHealth.json`, serialized: the endpoint's recent calls.
    public var endpointHealthJSON: String?

    public init(
        judgeName: String, identity: String, endpoint: String?, state: String, reason: String?, updatedAt: Date, endpointHealthJSON: String? = nil
    ) {
        self.judgeName = judgeName
        self.identity = identity
        self.endpoint = endpoint
        self.state = state
        self.reason = reason
        self.updatedAt = updatedAt
        self.endpointHealthJSON = endpointHealthJSON
    }
}

/// Judge errors of one judge identity on one (route, model), of one kind.
public struct JudgeErrorTotal: Sendable, Equatable {
    public var identity: String
    public var route: String
    public var model: String
    public var kind: String
    public var count: Int64
}

/// Judge-queue totals for status and metrics.
public struct JudgeQueueSummary: Sendable, Equatable {
    public var depth: Int
    public var waitingByJudge: [String: Int]
    public var oldestEnqueuedAt: Date?
}

extension StateStore {
    /// The UTC day number a budget counts in.
    public static func budgetDay(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 / 86400).rounded(.down)) }

    /// Queued judgements that are due, oldest first, skipping those in flight and judges that
    /// cannot run now (their endpoint paused).
    public func dueJudgements(limit: Int, now: Date, judges: [String], excluding inFlight: Set<JudgementKey>) throws -> [PendingJudgement] {
        guard !judges.isEmpty, limit > 0 else { return [] }
        return try read { db in
            let placeholders = Array(repeating: "?", count: judges.count).joined(separator: ",")
            var arguments: [any DatabaseValueConvertible] = [now.timeIntervalSince1970]
            arguments += judges
            // Over-fetch by the in-flight count so skipping those still fills the limit.
            arguments.append(limit + inFlight.count)
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT q.evaluation_id, q.judge_name, q.enqueued_at, q.attempts, e.trace_id, e.record, e.dictionary_id, e.record_form
                    FROM judge_queue q JOIN evaluation_data e ON e.id = q.evaluation_id
                    WHERE q.not_before <= ? AND q.judge_name IN (\(placeholders))
                    ORDER BY q.enqueued_at, q.evaluation_id LIMIT ?
                    """, arguments: StatementArguments(arguments))
            var due: [PendingJudgement] = []
            for row in rows {
                let pending = PendingJudgement(
                    evaluationID: row["evaluation_id"], judgeName: row["judge_name"],
                    enqueuedAt: Date(timeIntervalSince1970: row["enqueued_at"]),
                    attempts: row["attempts"],
                    recordJSON: try RecordDictionaries.json(db, row, cache: recordDictionaries))
                if inFlight.contains(pending.key) { continue }
                due.append(pending)
                if due.count == limit { break }
            }
            return due
        }
    }

    /// Stores a verdict, its rollup, the tokens it cost and takes it off the queue, in one
    /// transaction: a crash before it leaves the trace queued, a crash after it leaves it
    /// scored, never both. Returns false when this identity had already judged the evaluation.
    @discardableResult
    public func commitJudgement(_ verdict: JudgeVerdictRecord, recheckSample: Int = 0) throws -> Bool {
        try storeJudgement(verdict, recheckSample: recheckSample).inserted
    }

    /// What storing a verdict did: whether it was new and, for a new scored verdict, the
    /// route ("" for none) and model of its evaluation (the series its rollup went to).
    public struct StoredJudgement: Sendable, Equatable {
        public var inserted: Bool
        public var route: String?
        public var model: String?
    }

    /// `commitJudgement`, telling which series a new scored verdict went to. A scored verdict
    /// from a judge version not seen before records a judge version switch, and queues
    /// `recheckSample` of the previous version's verdicts to be judged again (`judge_recheck`).
    public func storeJudgement(_ verdict: JudgeVerdictRecord, recheckSample: Int = 0) throws -> StoredJudgement {
        try write { db in
            let at = verdict.judgedAt.timeIntervalSince1970
            var score: Double?, passed: Bool?, reason: String?, errorKind: String?, error: String?, excerpt: String?
            switch verdict.outcome {
            case .scored(let s, let p, let r): score = s; passed = p; reason = r
            case .failed(let k, let m, let x): errorKind = k; error = m; excerpt = x
            }
            var writer = CompactWriter(db)
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO judge_verdict (evaluation_id, judge_id, judge_name_id, score, passed, reason, error_kind, error,
                        reply_excerpt, endpoint_id, judge_model_id, input_tokens, output_tokens, latency_ms, attempts, judged_at)
                    SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM evaluation_data WHERE id = ?)
                    """,
                arguments: [
                    verdict.evaluationID, try writer.textID(verdict.identity) as Int64, try writer.textID(verdict.judgeName) as Int64, score, passed, reason,
                    errorKind, error, excerpt, try writer.textID(verdict.endpoint) as Int64, try writer.textID(verdict.judgeModel),
                    // Whole milliseconds and seconds are stored as small integers (8 bytes less each).
                    verdict.inputTokens, verdict.outputTokens, verdict.latencyMs?.rounded(), verdict.attempts, at.rounded(.down),
                    verdict.evaluationID,
                ])
            let inserted = db.changesCount == 1
            try db.execute(
                sql: "DELETE FROM judge_queue WHERE evaluation_id = ? AND judge_name = ?",
                arguments: [verdict.evaluationID, verdict.judgeName])
            let tokens = Int64(verdict.inputTokens + verdict.outputTokens)
            if tokens > 0 {
                // Tokens were spent even when the verdict is a duplicate or an error.
                try db.execute(
                    sql: """
                        INSERT INTO judge_token_usage (endpoint, day, tokens) VALUES (?, ?, ?)
                        ON CONFLICT(endpoint, day) DO UPDATE SET tokens = tokens + excluded.tokens
                        """, arguments: [verdict.endpoint, Self.budgetDay(verdict.judgedAt), tokens])
            }
            guard inserted else { return StoredJudgement(inserted: false) }
            if score != nil {
                try db.execute(sql: "INSERT INTO judge_feed (evaluation_id, judge) VALUES (?, ?)", arguments: [verdict.evaluationID, verdict.identity])
                if let version = verdict.judgeVersion {
                    try Self.noteJudgeVersion(db, verdict, version: version, feedSeq: db.lastInsertedRowID, recheckSample: recheckSample, writer: &writer)
                }
            }
            var stored = StoredJudgement(inserted: true)
            if let score, let passed,
                let row = try Row.fetchOne(db, sql: "SELECT ts, route, model FROM evaluation WHERE id = ?", arguments: [verdict.evaluationID])
            {
                var rollups = RollupBatch()
                rollups.addJudgeScore(
                    identity: verdict.identity, route: row["route"], model: row["model"],
                    at: Date(timeIntervalSince1970: row["ts"]), score: score, passed: passed, judgedAt: verdict.judgedAt)
                try Self.addRollups(db, rollups, writer: &writer)
                stored.route = row["route"] as String? ?? ""
                stored.model = row["model"]
            }
            try Self.add(db, errorKind == nil ? ["judged": 1] : ["judged": 1, "judge_errors": 1])
            return stored
        }
    }

    /// Puts a judgement back for later (endpoint down, circuit open): it keeps its place in
    /// the queue and its age, so `max_queue_age` still applies.
    public func deferJudgement(_ key: JudgementKey, until: Date, error: String) throws {
        try write { db in
            try db.execute(
                sql: """
                    UPDATE judge_queue SET attempts = attempts + 1, not_before = ?, last_error = ?
                    WHERE evaluation_id = ? AND judge_name = ?
                    """, arguments: [until.timeIntervalSince1970, error, key.evaluationID, key.judgeName])
        }
    }

    /// Clears every judgement's backoff (a new process starts with fresh circuits).
    public func makeDeferredJudgementsDue() throws {
        try write { db in try db.execute(sql: "UPDATE judge_queue SET not_before = 0 WHERE not_before > 0") }
    }

    /// Drops judgements queued before `cutoff` (`judge.max_queue_age`), counted in
    /// `judge_dropped_stale`; returns how many.
    @discardableResult
    public func dropStaleJudgements(queuedBefore cutoff: Date) throws -> Int {
        try write { db in
            try db.execute(sql: "DELETE FROM judge_queue WHERE enqueued_at < ?", arguments: [cutoff.timeIntervalSince1970])
            let dropped = db.changesCount
            try Self.add(db, ["judge_dropped_stale": Int64(dropped)])
            return dropped
        }
    }

    /// Drops judgements for judges no longer configured (their rubric file removed), counted
    /// in `judge_dropped_unknown`; returns how many.
    @discardableResult
    public func dropJudgements(notIn judges: [String]) throws -> Int {
        try write { db in
            let placeholders = Array(repeating: "?", count: judges.count).joined(separator: ",")
            let filter = judges.isEmpty ? "" : "WHERE judge_name NOT IN (\(placeholders))"
            try db.execute(sql: "DELETE FROM judge_queue \(filter)", arguments: StatementArguments(judges))
            let dropped = db.changesCount
            try Self.add(db, ["judge_dropped_unknown": Int64(dropped)])
            return dropped
        }
    }

    public func judgeQueueSummary() throws -> JudgeQueueSummary {
        try read { db in
            var byJudge: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT judge_name, COUNT(*) AS n FROM judge_queue GROUP BY judge_name") {
                byJudge[row["judge_name"]] = row["n"]
            }
            let oldest = try Double.fetchOne(db, sql: "SELECT MIN(enqueued_at) FROM judge_queue")
            return JudgeQueueSummary(
                depth: byJudge.values.reduce(0, +), waitingByJudge: byJudge,
                oldestEnqueuedAt: oldest.map { Date(timeIntervalSince1970: $0) })
        }
    }

    /// Tokens an endpoint spent on the UTC day of `date`.
    public func tokensUsed(endpoint: String, on date: Date) throws -> Int64 {
        try read { db in
            try Int64.fetchOne(
                db, sql: "SELECT tokens FROM judge_token_usage WHERE endpoint = ? AND day = ?",
                arguments: [endpoint, Self.budgetDay(date)]) ?? 0
        }
    }

    /// Verdicts and judge errors since a time: the recent judge error rate.
    public func judgeOutcomes(since: Date) throws -> (judged: Int, errors: Int) {
        try read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) AS n, COALESCE(SUM(error_kind IS NOT NULL), 0) AS errors FROM judge_score WHERE judged_at >= ?
                    """, arguments: [since.timeIntervalSince1970])
            return (row?["n"] ?? 0, row?["errors"] ?? 0)
        }
    }

    /// Verdicts and judge errors per judge name since a time (for `JudgeFailing`).
    public func judgeOutcomesByJudge(since: Date) throws -> [String: (judged: Int, errors: Int)] {
        try read { db in
            var result: [String: (judged: Int, errors: Int)] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT judge_name, COUNT(*) AS n, COALESCE(SUM(error_kind IS NOT NULL), 0) AS errors
                    FROM judge_score WHERE judged_at >= ? GROUP BY judge_name
                    """, arguments: [since.timeIntervalSince1970])
            {
                result[row["judge_name"]] = (row["n"], row["errors"])
            }
            return result
        }
    }

    /// Judge errors per judge name and kind since a time (for `JudgeFailing`'s text).
    public func judgeErrorKindsByJudge(since: Date) throws -> [String: [String: Int]] {
        try read { db in
            var result: [String: [String: Int]] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT judge_name, error_kind, COUNT(*) AS n FROM judge_score
                    WHERE judged_at >= ? AND error_kind IS NOT NULL GROUP BY judge_name, error_kind
                    """, arguments: [since.timeIntervalSince1970])
            {
                result[row["judge_name"], default: [:]][row["error_kind"]] = row["n"]
            }
            return result
        }
    }

    /// Judge errors per judge identity, route, model and kind, of evaluations timestamped in
    /// [since, until): the error rows of `evald metrics`.
    public func judgeErrorTotals(since: Date, until: Date, route: String? = nil, model: String? = nil) throws -> [JudgeErrorTotal] {
        try read { db in
            var sql = """
                SELECT s.judge AS judge, COALESCE(e.route, '') AS route, e.model AS model, s.error_kind AS kind, COUNT(*) AS n
                FROM judge_score s JOIN evaluation e ON e.id = s.evaluation_id
                WHERE s.error_kind IS NOT NULL AND e.ts >= ? AND e.ts < ?
                """
            var arguments: [any DatabaseValueConvertible] = [since.timeIntervalSince1970, until.timeIntervalSince1970]
            if let route {
                sql += " AND COALESCE(e.route, '') = ?"
                arguments.append(route)
            }
            if let model {
                sql += " AND e.model = ?"
                arguments.append(model)
            }
            sql += " GROUP BY s.judge, COALESCE(e.route, ''), e.model, s.error_kind ORDER BY s.judge, route, model, kind"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map {
                JudgeErrorTotal(identity: $0["judge"], route: $0["route"], model: $0["model"], kind: $0["kind"], count: $0["n"])
            }
        }
    }

    /// The evaluations of a judge's latest errors, as examples for an alert.
    public func recentJudgeErrorEvaluations(judgeName: String, since: Date, limit: Int) throws -> [Int64] {
        try read { db in
            try Int64.fetchAll(
                db,
                sql: """
                    SELECT evaluation_id FROM judge_score WHERE judge_name = ? AND error_kind IS NOT NULL AND judged_at >= ?
                    ORDER BY judged_at DESC LIMIT ?
                    """, arguments: [judgeName, since.timeIntervalSince1970, limit])
        }
    }

    /// Replaces what is known about the judges' states.
    public func recordJudgeStates(_ states: [JudgeStateRecord]) throws {
        try write { db in
            try db.execute(sql: "DELETE FROM judge_state")
            for s in states {
                try db.execute(
                    sql: """
                        INSERT INTO judge_state (judge_name, identity, endpoint, state, reason, updated_at, endpoint_health_json)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [s.judgeName, s.identity, s.endpoint, s.state, s.reason, s.updatedAt.timeIntervalSince1970, s.endpointHealthJSON])
            }
        }
    }

    public func judgeStates() throws -> [JudgeStateRecord] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT judge_name, identity, endpoint, state, reason, updated_at, endpoint_health_json FROM judge_state ORDER BY judge_name"
            ).map {
                JudgeStateRecord(
                    judgeName: $0["judge_name"], identity: $0["identity"], endpoint: $0["endpoint"], state: $0["state"],
                    reason: $0["reason"], updatedAt: Date(timeIntervalSince1970: $0["updated_at"]), endpointHealthJSON: $0["endpoint_health_json"])
            }
        }
    }

    /// The judges' verdicts on one evaluation, for `evald explain`.
    public func judgeVerdicts(evaluationID: Int64) throws -> [JudgeVerdictRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM judge_score WHERE evaluation_id = ? ORDER BY judge_name", arguments: [evaluationID]).map { row in
                let outcome: JudgeVerdictRecord.Outcome
                if let kind: String = row["error_kind"] {
                    outcome = .failed(kind: kind, message: row["error"] ?? "", excerpt: row["reply_excerpt"])
                } else {
                    outcome = .scored(score: row["score"] ?? 0, passed: row["passed"] ?? false, reason: row["reason"])
                }
                return JudgeVerdictRecord(
                    evaluationID: row["evaluation_id"], judgeName: row["judge_name"], identity: row["judge"],
                    endpoint: row["endpoint"], outcome: outcome, judgeModel: row["judge_model"],
                    inputTokens: row["input_tokens"] ?? 0, outputTokens: row["output_tokens"] ?? 0,
                    latencyMs: row["latency_ms"], attempts: row["attempts"],
                    judgedAt: Date(timeIntervalSince1970: row["judged_at"]))
            }
        }
    }

    /// Distinct routes seen in evaluations since a time: tells whether a judge's applies_to matches anything.
    public func routesSeen(since: Date) throws -> [String] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT COALESCE(route, '') FROM evaluation WHERE ts >= ?", arguments: [since.timeIntervalSince1970])
        }
    }
}
