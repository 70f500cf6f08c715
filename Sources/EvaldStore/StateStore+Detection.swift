import EvaldCore
import Foundation
import GRDB

/// An evaluation as detection reads it: the operational numbers, the provider version and
/// each check's verdict.
public struct DetectionEvaluation: Sendable, Equatable {
    public var id: Int64
    public var ts: Date
    public var route: String
    public var model: String
    public var responseModel: String?
    public var systemFingerprint: String?
    public var ok: Bool
    public var latencyMs: Double?
    public var costUSD: Double?
    public var checks: [CheckOutcome]
    public var promptVersion: String? = nil

    public struct CheckOutcome: Sendable, Equatable {
        public var name: String
        public var passed: Bool
    }
}

/// A judge score as detection reads it, with its evaluation's series and provider version.
public struct DetectionJudgeOutcome: Sendable, Equatable {
    public var seq: Int64
    public var evaluationID: Int64
    public var ts: Date
    public var route: String
    public var model: String
    public var responseModel: String?
    public var systemFingerprint: String?
    public var judgeName: String
    public var identity: String
    public var score: Double
    public var passed: Bool
    public var promptVersion: String? = nil
}

/// One row of detection state.
public struct DetectionStateRow: Sendable, Equatable {
    public var kind: String
    public var key: String
    public var json: String

    public init(kind: String, key: String, json: String) {
        self.kind = kind
        self.key = key
        self.json = json
    }
}

extension StateStore {
    /// Evaluations with an id above `after`, in id order (the order they were committed).
    public func detectionEvaluations(after: Int64, limit: Int) throws -> [DetectionEvaluation] {
        try read { db in
            // Detection's hot read, from the compact tables rather than their views: columns
            // straight from SQLite, each interned string and check set looked up once per read,
            // and only failures read per evaluation (a check of the set without a failure row
            // passed; failures come in key order, so they merge in without sorting).
            let evaluations = try db.cachedStatement(
                sql: """
                    SELECT id, ts, route_id, model_id, response_model_id, system_fingerprint_id, status_id, latency_ms, cost_usd,
                           check_set_id, prompt_version_id
                    FROM evaluation_data WHERE id > ? ORDER BY id LIMIT ?
                    """)
            evaluations.arguments = [after, limit]
            var texts = try TextValues(db)
            var checkSets = try CheckSets(db)
            var result: [DetectionEvaluation] = []
            var checkSetIDs: [Int64] = []
            let rows = try Row.fetchCursor(evaluations)
            let row = SQLiteColumns(evaluations)
            while try rows.next() != nil {
                result.append(
                    DetectionEvaluation(
                        id: row.int64(0), ts: Date(timeIntervalSince1970: row.double(1)),
                        route: row.isNull(2) ? "" : try texts.value(row.int64(2)), model: try texts.value(row.int64(3)),
                        responseModel: row.isNull(4) ? nil : try texts.value(row.int64(4)),
                        systemFingerprint: row.isNull(5) ? nil : try texts.value(row.int64(5)),
                        ok: try texts.value(row.int64(6)) == "ok", latencyMs: row.optionalDouble(7), costUSD: row.optionalDouble(8),
                        checks: [], promptVersion: row.isNull(10) ? nil : try texts.value(row.int64(10))))
                checkSetIDs.append(row.isNull(9) ? -1 : row.int64(9))
            }
            guard let first = result.first?.id, let last = result.last?.id else { return [] }
            for index in result.indices where checkSetIDs[index] >= 0 {
                result[index].checks = try checkSets.outcomes(checkSetIDs[index])
            }
            let failures = try db.cachedStatement(
                sql: "SELECT evaluation_id, check_id FROM check_failure WHERE evaluation_id BETWEEN ? AND ? ORDER BY evaluation_id")
            failures.arguments = [first, last]
            var index = 0
            let failureRows = try Row.fetchCursor(failures)
            let failure = SQLiteColumns(failures)
            while try failureRows.next() != nil {
                let id = failure.int64(0)
                while index < result.count, result[index].id < id { index += 1 }
                guard index < result.count else { break }
                guard result[index].id == id, let position = checkSets.position(of: failure.int64(1), in: checkSetIDs[index]) else {
                    continue
                }
                result[index].checks[position].passed = false
            }
            return result
        }
    }

    /// Judge scores not yet consumed by detection, in commit order, and the last feed position
    /// read (rows whose evaluation retention already removed are passed over, not returned).
    public func detectionJudgeOutcomes(after: Int64, limit: Int) throws -> (outcomes: [DetectionJudgeOutcome], through: Int64) {
        try read { db in
            var through = after
            var outcomes: [DetectionJudgeOutcome] = []
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT f.seq, f.evaluation_id, e.ts, e.route, e.model, e.response_model, e.system_fingerprint, e.prompt_version,
                           s.judge_name, s.judge, s.score, s.passed
                    FROM judge_feed f
                    LEFT JOIN judge_score s ON s.evaluation_id = f.evaluation_id AND s.judge = f.judge
                    LEFT JOIN evaluation e ON e.id = f.evaluation_id
                    WHERE f.seq > ?
                    ORDER BY f.seq LIMIT ?
                    """, arguments: [after, limit])
            {
                through = row["seq"]
                guard let ts = row["ts"] as Double?, let score = row["score"] as Double?, let passed = row["passed"] as Bool? else { continue }
                outcomes.append(
                    DetectionJudgeOutcome(
                        seq: row["seq"], evaluationID: row["evaluation_id"], ts: Date(timeIntervalSince1970: ts), route: row["route"] ?? "",
                        model: row["model"], responseModel: row["response_model"], systemFingerprint: row["system_fingerprint"],
                        judgeName: row["judge_name"], identity: row["judge"], score: score, passed: passed, promptVersion: row["prompt_version"]))
            }
            return (outcomes, through)
        }
    }

    /// Evaluations committed after `cursor`: what detection has yet to feed.
    public func evaluationCount(after cursor: Int64) throws -> Int {
        try read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM evaluation_data WHERE id > ?", arguments: [cursor]) ?? 0
        }
    }

    /// How far detection is behind ingest, in seconds: how long the oldest evaluation it has
    /// not fed yet has been committed (0 when it is caught up). Wall time, so a backfill of old
    /// traces counts by when it arrived, not by when it happened.
    public func detectionLag(now: Date) throws -> Double {
        try read { db in
            let cursor =
                try String.fetchOne(db, sql: "SELECT state_json FROM detection_state WHERE kind = 'cursor' AND key = 'evaluation'")
                .flatMap { Int64($0) } ?? 0
            guard
                let oldest = try Double.fetchOne(
                    db, sql: "SELECT ingested_at FROM evaluation_data WHERE id > ? ORDER BY id LIMIT 1",
                    arguments: [cursor])
            else { return 0 }
            return max(0, now.timeIntervalSince1970 - oldest)
        }
    }

    /// The routes sampled above their configured rate, for `evald status`, which reads
    /// the database, not the daemon.
    public func recordRaisedSamplingRates(_ rates: [String: Double], at: Date) throws {
        let json = JSONValue.object(rates.sorted { $0.key < $1.key }.map { ($0.key, .double($0.value)) }).serialized()
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO detection_state (kind, key, state_json, updated_at) VALUES ('sampling', 'raised', ?, ?)
                    ON CONFLICT (kind, key) DO UPDATE SET state_json = excluded.state_json, updated_at = excluded.updated_at
                    """, arguments: [json, at.timeIntervalSince1970])
        }
    }

    public func raisedSamplingRates() throws -> [String: Double] {
        guard let json = try detectionState(kind: "sampling", key: "raised"), case .object(let pairs)? = try? JSONParser.parse(json) else {
            return [:]
        }
        var rates: [String: Double] = [:]
        for (route, value) in pairs {
            switch value {
            case .double(let rate): rates[route] = rate
            case .int(let rate): rates[route] = Double(rate)
            default: continue
            }
        }
        return rates
    }

    /// Each route's traffic since `since` (trace time), estimated from its sample: every
    /// evaluation stands for 1 / (the rate it was sampled at) calls (Horvitz-Thompson), so the
    /// estimate stays right while rates are raised and lowered.
    /// Also returns the first sampled trace time per route, so a route that started recently
    /// is not taken for a quiet one.
    public func estimatedTraffic(since: Date) throws -> [String: (calls: Double, firstAt: Date)] {
        try read { db in
            var traffic: [String: (calls: Double, firstAt: Date)] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT COALESCE(route, '') AS route, SUM(1.0 / sample_rate) AS calls, MIN(ts) AS first FROM evaluation
                    WHERE ts >= ? AND sample_rate > 0 GROUP BY route
                    """, arguments: [since.timeIntervalSince1970])
            {
                traffic[row["route"]] = (row["calls"], Date(timeIntervalSince1970: row["first"]))
            }
            return traffic
        }
    }

    /// One row of detection state (the canary's watch), without reading the others.
    public func detectionState(kind: String, key: String) throws -> String? {
        try read { db in
            try String.fetchOne(db, sql: "SELECT state_json FROM detection_state WHERE kind = ? AND key = ?", arguments: [kind, key])
        }
    }

    public func detectionStates(kind: String) throws -> [String: String] {
        try read { db in
            var states: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key, state_json FROM detection_state WHERE kind = ?", arguments: [kind]) {
                states[row["key"]] = row["state_json"]
            }
            return states
        }
    }

    /// Writes a round's state and applies its alert decisions in one transaction, and drops
    /// the judge feed up to `judgeFeedConsumed`: a crash before it leaves the round to be redone
    /// from the previous state, a crash after it leaves it done; an outcome is never counted twice.
    /// Returns the alerts fired.
    @discardableResult
    public func commitDetectionRound(
        states: [DetectionStateRow], actions: [DetectionAlertAction], judgeFeedConsumed: Int64?,
        usageFeedConsumed: Int64? = nil, at: Date
    ) throws -> [StoredAlert] {
        try write { db in
            if let consumed = judgeFeedConsumed {
                try db.execute(sql: "DELETE FROM judge_feed WHERE seq <= ?", arguments: [consumed])
            }
            if let consumed = usageFeedConsumed {
                try db.execute(sql: "DELETE FROM usage_feed WHERE id <= ?", arguments: [consumed])
            }
            return try Self.apply(db, states: states, actions: actions, at: at)
        }
    }

    static func apply(_ db: Database, states: [DetectionStateRow], actions: [DetectionAlertAction], at: Date) throws -> [StoredAlert] {
        let t = at.timeIntervalSince1970
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO detection_state (kind, key, state_json, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(kind, key) DO UPDATE SET state_json = excluded.state_json, updated_at = excluded.updated_at
                """)
        for row in states { try upsert.execute(arguments: [row.kind, row.key, row.json, t]) }
        var fired: [StoredAlert] = []
        for action in actions {
            switch action {
            case .fire(let firing, let receivers):
                if let alert = try Self.fire(db, firing, receivers: receivers, at: at) { fired.append(alert) }
            case .resolve(let fingerprint, let numbers, let receivers):
                if let id = try Int64.fetchOne(db, sql: "SELECT id FROM alert WHERE fingerprint = ? AND state = 'firing'", arguments: [fingerprint]) {
                    _ = try Self.resolve(db, id: id, receivers: receivers, numbers: numbers, at: at)
                }
            }
        }
        return fired
    }
}

/// One golden-set canary run.
public struct CanaryRunRecord: Sendable, Equatable {
    public var id: Int64 = 0
    public var set: String
    public var endpoint: String
    public var startedAt: Date
    public var finishedAt: Date
    public var cases: Int
    public var answered: Int
    /// Provider version -> answers that carried it.
    public var versions: [String: Int]
    public var regressed: [String]
    public var error: String?
    public var resultJSON: String

    public init(
        set: String, endpoint: String, startedAt: Date, finishedAt: Date, cases: Int, answered: Int, versions: [String: Int],
        regressed: [String], error: String?, resultJSON: String
    ) {
        self.set = set
        self.endpoint = endpoint
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.cases = cases
        self.answered = answered
        self.versions = versions
        self.regressed = regressed
        self.error = error
        self.resultJSON = resultJSON
    }
}

extension StateStore {
    /// Stores a canary run with the drift-watch state and alerts it decided, in one transaction.
    @discardableResult
    public func commitCanaryRun(_ run: CanaryRunRecord, states: [DetectionStateRow], actions: [DetectionAlertAction], at: Date) throws -> [StoredAlert] {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO canary_run (golden_set, endpoint, started_at, finished_at, cases, answered, versions_json, regressed_json, error, result_json)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    run.set, run.endpoint, run.startedAt.timeIntervalSince1970, run.finishedAt.timeIntervalSince1970, run.cases,
                    run.answered, Self.encode(run.versions.mapValues(Double.init)),
                    JSONValue.array(run.regressed.map(JSONValue.string)).serialized(), run.error, run.resultJSON,
                ])
            return try Self.apply(db, states: states, actions: actions, at: at)
        }
    }

    /// The latest canary runs, newest first.
    public func canaryRuns(set: String? = nil, limit: Int = 10) throws -> [CanaryRunRecord] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM canary_run \(set == nil ? "" : "WHERE golden_set = ?") ORDER BY id DESC LIMIT ?",
                arguments: set.map { [$0, limit] } ?? [limit]
            ).map { row in
                var versions: [String: Int] = [:]
                if case .object(let pairs)? = try? JSONParser.parse(row["versions_json"] as String) {
                    for (key, value) in pairs {
                        if case .int(let count) = value { versions[key] = Int(count) } else if case .double(let count) = value { versions[key] = Int(count) }
                    }
                }
                var regressed: [String] = []
                if case .array(let items)? = try? JSONParser.parse(row["regressed_json"] as String) {
                    regressed = items.compactMap(\.stringValue)
                }
                var run = CanaryRunRecord(
                    set: row["golden_set"], endpoint: row["endpoint"], startedAt: Date(timeIntervalSince1970: row["started_at"]),
                    finishedAt: Date(timeIntervalSince1970: row["finished_at"]), cases: row["cases"], answered: row["answered"],
                    versions: versions, regressed: regressed, error: row["error"], resultJSON: row["result_json"])
                run.id = row["id"]
                return run
            }
        }
    }
}
