import EvaldCore
import Foundation
import GRDB

/// One variant's outcomes on one metric of a route, for `evald compare`.
public struct VariantTally: Sendable, Equatable {
    public enum Measure: String, Sendable {
        case passRate = "pass_rate"
        case meanScore = "mean_score"
    }

    public var variant: String
    public var metric: String
    public var measure: Measure
    public var arm: ArmTally
    /// Mean scores: the lowest and highest score seen (the scale's width, for the interval).
    public var lowest: Double?
    public var highest: Double?
}

/// A variant of a route: its evaluations and when it first answered in the period.
public struct VariantSeen: Sendable, Equatable {
    public var variant: String
    public var evaluations: Int
    public var firstAt: Date
}

extension StateStore {
    /// The variants (prompt versions or models) that answered `route` since `since`, and their
    /// pass rates per check, error rate, and each judge's pass rate and mean score.
    public func variantTallies(
        route: String, by dimension: ChangeWatch.Dimension, since: Date
    ) throws -> (
        variants: [VariantSeen], tallies: [VariantTally]
    ) {
        let column = dimension == .promptVersion ? "e.prompt_version" : "e.model"
        return try read { db in
            let arguments: StatementArguments = [route, since.timeIntervalSince1970]
            let filter = "e.route = ? AND e.ts >= ? AND \(column) IS NOT NULL"
            var variants: [VariantSeen] = []
            var tallies: [VariantTally] = []
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT \(column) AS variant, COUNT(*) AS n, SUM(e.status = 'ok') AS ok, MIN(e.ts) AS first
                    FROM evaluation e WHERE \(filter) GROUP BY variant
                    """, arguments: arguments)
            {
                let variant: String = row["variant"], n: Int = row["n"], ok: Int = row["ok"]
                variants.append(VariantSeen(variant: variant, evaluations: n, firstAt: Date(timeIntervalSince1970: row["first"])))
                tallies.append(VariantTally(variant: variant, metric: "op:error_rate", measure: .passRate, arm: ArmTally(passes: ok, n: n)))
            }
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT \(column) AS variant, c.name AS name, COUNT(*) AS n, SUM(c.passed) AS passes
                    FROM evaluation e JOIN check_result c ON c.evaluation_id = e.id
                    WHERE \(filter) GROUP BY variant, c.name
                    """, arguments: arguments)
            {
                tallies.append(
                    VariantTally(
                        variant: row["variant"], metric: "check:\(row["name"] as String)", measure: .passRate,
                        arm: ArmTally(passes: row["passes"], n: row["n"])))
            }
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT \(column) AS variant, s.judge_name AS name, COUNT(*) AS n, SUM(s.passed) AS passes,
                           SUM(s.score) AS total, SUM(s.score * s.score) AS squares, MIN(s.score) AS lowest, MAX(s.score) AS highest
                    FROM evaluation e JOIN judge_score s ON s.evaluation_id = e.id
                    WHERE \(filter) AND s.score IS NOT NULL GROUP BY variant, s.judge_name
                    """, arguments: arguments)
            {
                let variant: String = row["variant"], metric = "judge:\(row["name"] as String)", n: Int = row["n"]
                tallies.append(VariantTally(variant: variant, metric: metric, measure: .passRate, arm: ArmTally(passes: row["passes"] ?? 0, n: n)))
                tallies.append(
                    VariantTally(
                        variant: variant, metric: metric, measure: .meanScore,
                        arm: ArmTally(n: n, sum: row["total"] ?? 0, sumOfSquares: row["squares"] ?? 0), lowest: row["lowest"], highest: row["highest"]))
            }
            return (variants, tallies)
        }
    }
}
