import EvaldCore
import Foundation
import GRDB

/// A piece of feedback as detection reads it.
public struct DetectionFeedback: Sendable, Equatable {
    public var id: Int64
    public var ts: Date
    public var route: String
    public var model: String
    public var promptVersion: String?
    public var value: FeedbackValue
    /// The newest evaluation committed with or before it: detection feeds it once it has read that
    /// far, so the change watches know the versions it names.
    public var afterEvaluation: Int64
}

extension StateStore {
    /// Migration v11-feedback: every piece of feedback (feedback lines and records' `feedback`
    /// field, sampled or not), in commit order; detection consumes it by `id`.
    static let feedbackSchema = """
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            file_id INTEGER NOT NULL,
            line_offset INTEGER NOT NULL,
            source TEXT NOT NULL,
            trace_id TEXT,
            ts REAL NOT NULL,
            route TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt_version TEXT,
            thumb INTEGER,
            score REAL,
            after_evaluation INTEGER NOT NULL,
            ingested_at REAL NOT NULL
        );
        CREATE INDEX feedback_by_ts ON feedback(ts);
        CREATE INDEX feedback_by_route ON feedback(route, ts);
        """

    /// Stores a batch's feedback and adds it to the `feedback:thumbs` and `feedback:score`
    /// rollups; runs inside `commitBatch`, so it commits with the spool offset.
    static func commitFeedback(_ db: Database, _ feedback: FeedbackBatch, fileID: Int64, at: Double) throws {
        guard !feedback.isEmpty else { return }
        let afterEvaluation = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM evaluation_data") ?? 0
        let insert = try SQLiteInsert(
            db,
            sql: """
                INSERT INTO feedback (file_id, line_offset, source, trace_id, ts, route, model, prompt_version, thumb, score,
                    after_evaluation, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        var cells: [RollupKey: RollupCell] = [:]
        for entry in feedback.entries {
            let event = entry.event
            let ts = event.timestamp?.timeIntervalSince1970 ?? at
            let minute = RollupKey.minute(of: Date(timeIntervalSince1970: ts))
            var thumb: Int?
            var score: Double?
            switch event.value {
            case .thumb(let up):
                thumb = up ? 1 : 0
                cells[RollupKey(metric: MetricName.feedbackThumbs, route: event.route, model: event.model, minute: minute), default: RollupCell()]
                    .addPass(up)
            case .score(let value):
                score = value
                cells[RollupKey(metric: MetricName.feedbackScore, route: event.route, model: event.model, minute: minute), default: RollupCell()]
                    .addValue(value)
            }
            try insert.run(
                fileID, entry.lineOffset, event.source.rawValue, event.traceID, ts, event.route, event.model, event.promptVersion, thumb, score,
                afterEvaluation, at)
        }
        var writer = CompactWriter(db)
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO rollup_cell (minute, series_id, n, pass_n, sum, sum_sq, hist) VALUES (?, ?, ?, ?, ?, ?, NULL)
                ON CONFLICT(minute, series_id) DO UPDATE SET
                    n = n + excluded.n, pass_n = pass_n + excluded.pass_n, sum = sum + excluded.sum, sum_sq = sum_sq + excluded.sum_sq
                """)
        for (key, cell) in cells {
            try upsert.execute(arguments: [
                key.minute, try writer.seriesID(metric: key.metric, route: key.route, model: key.model), cell.n, cell.passN, cell.sum,
                cell.sumSquares,
            ])
        }
        try add(db, ["feedback": Int64(feedback.entries.count)])
    }

    /// Pieces of feedback stored (retention prunes them after `raw_days`).
    public func feedbackCount() throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM feedback") ?? 0 }
    }

    /// Feedback stored after `after`, in commit order.
    public func detectionFeedback(after: Int64, limit: Int) throws -> [DetectionFeedback] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, ts, route, model, prompt_version, thumb, score, after_evaluation
                    FROM feedback WHERE id > ? ORDER BY id LIMIT ?
                    """, arguments: [after, limit]
            ).map { row in
                let thumb: Int? = row["thumb"]
                let value: FeedbackValue = thumb.map { .thumb(up: $0 == 1) } ?? .score(row["score"] ?? 0)
                return DetectionFeedback(
                    id: row["id"], ts: Date(timeIntervalSince1970: row["ts"]), route: row["route"], model: row["model"],
                    promptVersion: row["prompt_version"], value: value, afterEvaluation: row["after_evaluation"])
            }
        }
    }

    /// Deletes at most `limit` pieces of feedback older than `cutoff` that detection has read
    /// (their rollups stay); returns how many.
    public func pruneFeedback(before cutoff: Date, limit: Int) throws -> Int {
        try write { db in
            try db.execute(
                sql: """
                    DELETE FROM feedback WHERE id IN (
                        SELECT id FROM feedback WHERE ts < ?
                          AND id <= COALESCE((SELECT CAST(state_json AS INTEGER) FROM detection_state WHERE kind = 'cursor' AND key = 'feedback'), 0)
                        ORDER BY id LIMIT ?)
                    """, arguments: [cutoff.timeIntervalSince1970, limit])
            return db.changesCount
        }
    }

    /// Each variant's feedback on a route since `since`, for `evald compare`: `feedback:thumbs`
    /// as a pass rate (up is a pass) and `feedback:score` as a mean.
    func feedbackVariantTallies(_ db: Database, route: String, by dimension: ChangeWatch.Dimension, since: Date) throws -> [VariantTally] {
        let column = dimension == .promptVersion ? "prompt_version" : "model"
        var tallies: [VariantTally] = []
        for row in try Row.fetchAll(
            db,
            sql: """
                SELECT \(column) AS variant, COUNT(thumb) AS thumbs, SUM(thumb) AS ups, COUNT(score) AS scores,
                       SUM(score) AS total, SUM(score * score) AS squares, MIN(score) AS lowest, MAX(score) AS highest
                FROM feedback WHERE route = ? AND ts >= ? AND \(column) IS NOT NULL AND \(column) != '' GROUP BY variant
                """, arguments: [route, since.timeIntervalSince1970])
        {
            let variant: String = row["variant"], thumbs: Int = row["thumbs"], scores: Int = row["scores"]
            if thumbs > 0 {
                tallies.append(
                    VariantTally(variant: variant, metric: MetricName.feedbackThumbs, measure: .passRate, arm: ArmTally(passes: row["ups"] ?? 0, n: thumbs)))
            }
            if scores > 0 {
                tallies.append(
                    VariantTally(
                        variant: variant, metric: MetricName.feedbackScore, measure: .meanScore,
                        arm: ArmTally(n: scores, sum: row["total"] ?? 0, sumOfSquares: row["squares"] ?? 0), lowest: row["lowest"],
                        highest: row["highest"]))
            }
        }
        return tallies
    }
}
