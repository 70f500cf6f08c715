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
            var sql = """
                SELECT s.metric, s.route, s.model, c.n, c.pass_n, c.sum, c.sum_sq, c.hist
                FROM rollup_cell c JOIN rollup_series s ON s.id = c.series_id WHERE c.minute >= ? AND c.minute < ?
                """
            var arguments: StatementArguments = [Self.minute(since), Self.minuteAfter(until)]
            if let route { sql += " AND s.route = ?"; arguments += [route] }
            if let model { sql += " AND s.model = ?"; arguments += [model] }
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
            var opSQL = """
                SELECT s.route, s.model, calls, ok_calls, latency_n, latency_sum, latency_sq, latency_hist,
                       cost_n, cost_sum, cost_sq, tokens_n, tokens_sum, tokens_sq
                FROM rollup_op_cell c JOIN rollup_series s ON s.id = c.series_id WHERE c.minute >= ? AND c.minute < ?
                """
            var opArguments: StatementArguments = [Self.minute(since), Self.minuteAfter(until)]
            if let route { opSQL += " AND s.route = ?"; opArguments += [route] }
            if let model { opSQL += " AND s.model = ?"; opArguments += [model] }
            let opRows = try Row.fetchCursor(db, sql: opSQL, arguments: opArguments)
            while let row = try opRows.next() {
                let route: String = row["route"], model: String = row["model"]
                var op = OperationalCell()
                op.calls.n = row["calls"]
                op.calls.passN = row["ok_calls"]
                op.latency.n = row["latency_n"]
                op.latency.sum = row["latency_sum"]
                op.latency.sumSquares = row["latency_sq"]
                if let blob = row["latency_hist"] as Data? { op.latency.histogram = LogHistogram(serialized: blob) }
                op.cost.n = row["cost_n"]
                op.cost.sum = row["cost_sum"]
                op.cost.sumSquares = row["cost_sq"]
                op.outputTokens.n = row["tokens_n"]
                op.outputTokens.sum = row["tokens_sum"]
                op.outputTokens.sumSquares = row["tokens_sq"]
                for (metric, cell) in op.series where cell.n > 0 {
                    let key = "\(metric)\u{0}\(route)\u{0}\(model)"
                    totals[key, default: SeriesTotals(metric: metric, route: route, model: model, cell: RollupCell())].cell.merge(cell)
                }
            }
            return totals.values.sorted { ($0.route, $0.model, $0.metric) < ($1.route, $1.model, $1.metric) }
        }
    }

    public func checkResults(evaluationID: Int64) throws -> [CheckResult] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT name, kind, passed, detail FROM check_result WHERE evaluation_id = ? ORDER BY name", arguments: [evaluationID])
                .map {
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
            try db.execute(
                sql: """
                    DELETE FROM evaluation_data WHERE id IN (SELECT id FROM evaluation_data WHERE ts < ? ORDER BY ts LIMIT ?)
                    """, arguments: [cutoff.timeIntervalSince1970, limit])
            let deleted = db.changesCount
            // Counted in the transaction that deletes: a crash counts a batch with its deletion or not at all.
            try Self.add(db, ["pruned_by_age": Int64(deleted)])
            // Failed calls kept outside the sample are raw data too.
            try db.execute(
                sql: "DELETE FROM failed_call WHERE id IN (SELECT id FROM failed_call WHERE ts < ? ORDER BY ts LIMIT ?)",
                arguments: [cutoff.timeIntervalSince1970, limit])
            return max(deleted, db.changesCount)
        }
    }

    public func pruneQuarantine(before cutoff: Date, limit: Int) throws -> Int {
        try write { db in
            try db.execute(
                sql: """
                    DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine WHERE quarantined_at < ? ORDER BY id LIMIT ?)
                    """, arguments: [cutoff.timeIntervalSince1970, limit])
            return db.changesCount
        }
    }

    /// Deletes at most `limit` minute buckets older than `cutoff` (of each rollup table, and usage rows).
    public func pruneRollups(before cutoff: Date, limit: Int) throws -> Int {
        try write { db in
            try db.execute(
                sql: """
                    DELETE FROM rollup_cell WHERE (minute, series_id) IN
                        (SELECT minute, series_id FROM rollup_cell WHERE minute < ? ORDER BY minute LIMIT ?)
                    """, arguments: [Self.minute(cutoff), limit])
            var deleted = db.changesCount
            try db.execute(
                sql: """
                    DELETE FROM rollup_op_cell WHERE (minute, series_id) IN
                        (SELECT minute, series_id FROM rollup_op_cell WHERE minute < ? ORDER BY minute LIMIT ?)
                    """, arguments: [Self.minute(cutoff), limit])
            deleted = max(deleted, db.changesCount)
            // Usage rows live as long as rollups.
            try db.execute(
                sql: """
                    DELETE FROM usage_minute WHERE (minute, route, model) IN
                        (SELECT minute, route, model FROM usage_minute WHERE minute < ? ORDER BY minute LIMIT ?)
                    """, arguments: [Self.minute(cutoff), limit])
            deleted = max(deleted, db.changesCount)
            try db.execute(
                sql: """
                    DELETE FROM usage_tenant_day WHERE (day, tenant) IN
                        (SELECT day, tenant FROM usage_tenant_day WHERE day < ? ORDER BY day LIMIT ?)
                    """, arguments: [String(RFC3339.format(cutoff, fractional: false).prefix(10)), limit])
            deleted = max(deleted, db.changesCount)
            return deleted
        }
    }

    static func minute(_ date: Date) -> Int64 { RollupKey.minute(of: date) }

    /// The first minute bucket not in a window ending at `until`: the bucket holding `until`
    /// belongs to the window (so "now" includes the current minute) unless `until` is its start.
    static func minuteAfter(_ until: Date) -> Int64 { Int64((until.timeIntervalSince1970 / 60).rounded(.up)) }
}
