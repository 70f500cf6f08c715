import EvaldCore
import Foundation
import GRDB

/// A series' totals over a window.
public struct SeriesTotals: Sendable, Equatable {
    public var metric: String
    public var route: String
    public var model: String
    public var cell: RollupCell
}

/// A stored check verdict.
public struct StoredCheckResult: Sendable, Equatable {
    public var evaluationID: Int64
    public var result: CheckResult
}

extension StateStore {
    /// Every series with data in [since, until), summed over its minute buckets.
    public func seriesTotals(since: Date, until: Date, route: String? = nil, model: String? = nil) throws -> [SeriesTotals] {
        try read { db in
            var sql = "SELECT metric, route, model, n, pass_n, sum, sum_sq, hist FROM rollup_minute WHERE minute >= ? AND minute < ?"
            var arguments: StatementArguments = [Self.minute(since), Self.minute(until)]
            if let route { sql += " AND route = ?"; arguments += [route] }
            if let model { sql += " AND model = ?"; arguments += [model] }
            var totals: [String: SeriesTotals] = [:]
            let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
            while let row = try rows.next() {
                let metric: String = row["metric"], route: String = row["route"], model: String = row["model"]
                var cell = RollupCell()
                cell.n = row["n"]
                cell.passN = row["pass_n"]
                cell.sum = row["sum"]
                cell.sumSquares = row["sum_sq"]
                if let blob = row["hist"] as Data? { cell.histogram = LogHistogram(serialized: blob) }
                let key = "\(metric)\u{0}\(route)\u{0}\(model)"
                totals[key, default: SeriesTotals(metric: metric, route: route, model: model, cell: RollupCell())].cell.merge(cell)
            }
            return totals.values.sorted { ($0.route, $0.model, $0.metric) < ($1.route, $1.model, $1.metric) }
        }
    }

    public func checkResults(evaluationID: Int64) throws -> [CheckResult] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT name, kind, passed, detail FROM check_result WHERE evaluation_id = ? ORDER BY name", arguments: [evaluationID]).map {
                CheckResult(name: $0["name"], kind: $0["kind"], passed: $0["passed"], detail: $0["detail"])
            }
        }
    }

    // MARK: retention

    /// Deletes at most `limit` raw evaluations (with their check results) whose trace time is
    /// before `cutoff`, oldest first; returns how many. Small batches keep each write short,
    /// so ingestion never waits long for the database.
    public func pruneEvaluations(before cutoff: Date, limit: Int) throws -> Int {
        try write { db in
            try db.execute(sql: """
                DELETE FROM evaluation WHERE id IN (SELECT id FROM evaluation WHERE ts < ? ORDER BY ts LIMIT ?)
                """, arguments: [cutoff.timeIntervalSince1970, limit])
            return db.changesCount
        }
    }

    public func pruneQuarantine(before cutoff: Date, limit: Int) throws -> Int {
        try write { db in
            try db.execute(sql: """
                DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine WHERE quarantined_at < ? ORDER BY id LIMIT ?)
                """, arguments: [cutoff.timeIntervalSince1970, limit])
            return db.changesCount
        }
    }

    public func pruneRollups(before cutoff: Date, limit: Int) throws -> Int {
        try write { db in
            try db.execute(sql: """
                DELETE FROM rollup_minute WHERE (metric, route, model, minute) IN
                    (SELECT metric, route, model, minute FROM rollup_minute WHERE minute < ? LIMIT ?)
                """, arguments: [Self.minute(cutoff), limit])
            return db.changesCount
        }
    }

    static func minute(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 / 60).rounded(.down)) }
}
