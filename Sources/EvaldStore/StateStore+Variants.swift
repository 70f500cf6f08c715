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
            tallies += try self.feedbackVariantTallies(db, route: route, by: dimension, since: since)
            return (variants, tallies)
        }
    }
}

/// One combination seen on a route: prompt version x model x provider version, for `evald versions`.
public struct LineageCombination: Sendable, Equatable {
    public var route: String
    public var promptVersion: String?
    public var model: String
    public var responseModel: String?
    public var systemFingerprint: String?
    public var firstSeen: Date
    public var lastSeen: Date
    public var evaluations: Int
    public var ok: Int
    /// `check:NAME` -> its verdicts (a pass is 1).
    public var checks: [String: ArmTally] = [:]

    public init(
        route: String, promptVersion: String?, model: String, responseModel: String?, systemFingerprint: String?, firstSeen: Date,
        lastSeen: Date, evaluations: Int, ok: Int, checks: [String: ArmTally] = [:]
    ) {
        self.route = route
        self.promptVersion = promptVersion
        self.model = model
        self.responseModel = responseModel
        self.systemFingerprint = systemFingerprint
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.evaluations = evaluations
        self.ok = ok
        self.checks = checks
    }
}

/// A judge version seen: the judge's identity and the model that answered for it.
public struct LineageJudge: Sendable, Equatable {
    public var identity: String
    public var name: String
    public var judgeModel: String?
    /// The judge's own version: its replies' model and system fingerprint (nil before it was recorded).
    public var version: String?
    public var firstSeen: Date
    public var lastSeen: Date
    public var verdicts: Int
    public var passes: Int
}

extension StateStore {
    /// Every combination of prompt version, model and provider version seen on the stored
    /// evaluations (of one route, or all), with their counts and check pass rates.
    public func lineage(route: String?) throws -> [LineageCombination] {
        try read { db in
            let filter = route == nil ? "" : "WHERE e.route = ?"
            let arguments: StatementArguments = route.map { [$0] } ?? []
            let group = "COALESCE(e.route, ''), e.prompt_version, e.model, e.response_model, e.system_fingerprint"
            struct Key: Hashable {
                var route: String, prompt: String?, model: String, response: String?, fingerprint: String?
            }
            func key(_ row: Row) -> Key {
                Key(
                    route: row["route"], prompt: row["prompt_version"], model: row["model"], response: row["response_model"],
                    fingerprint: row["system_fingerprint"])
            }
            var combinations: [Key: LineageCombination] = [:]
            var order: [Key] = []
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT COALESCE(e.route, '') AS route, e.prompt_version, e.model, e.response_model, e.system_fingerprint,
                           MIN(e.ts) AS first, MAX(e.ts) AS last, COUNT(*) AS n, SUM(e.status = 'ok') AS ok
                    FROM evaluation e \(filter) GROUP BY \(group) ORDER BY route, first
                    """, arguments: arguments)
            {
                let k = key(row)
                order.append(k)
                combinations[k] = LineageCombination(
                    route: k.route, promptVersion: k.prompt, model: k.model, responseModel: k.response, systemFingerprint: k.fingerprint,
                    firstSeen: Date(timeIntervalSince1970: row["first"]), lastSeen: Date(timeIntervalSince1970: row["last"]),
                    evaluations: row["n"], ok: row["ok"])
            }
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT COALESCE(e.route, '') AS route, e.prompt_version, e.model, e.response_model, e.system_fingerprint,
                           c.name AS name, COUNT(*) AS n, SUM(c.passed) AS passes
                    FROM evaluation e JOIN check_result c ON c.evaluation_id = e.id \(filter) GROUP BY \(group), c.name
                    """, arguments: arguments)
            {
                combinations[key(row)]?.checks["check:\(row["name"] as String)"] = ArmTally(passes: row["passes"], n: row["n"])
            }
            return order.compactMap { combinations[$0] }
        }
    }

    /// The judge versions seen: identity x the model that answered, with counts.
    public func judgeLineage() throws -> [LineageJudge] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT s.judge, s.judge_name, s.judge_model, (SELECT value FROM text_value WHERE id = v.judge_version_id) AS version,
                           MIN(s.judged_at) AS first, MAX(s.judged_at) AS last, COUNT(*) AS n, SUM(s.passed) AS passes
                    FROM judge_score s JOIN judge_verdict v ON v.evaluation_id = s.evaluation_id AND v.judge_id = (SELECT id FROM text_value WHERE value = s.judge)
                    WHERE s.score IS NOT NULL GROUP BY s.judge, s.judge_model, v.judge_version_id ORDER BY s.judge_name, first
                    """
            ).map {
                LineageJudge(
                    identity: $0["judge"], name: $0["judge_name"], judgeModel: $0["judge_model"], version: $0["version"],
                    firstSeen: Date(timeIntervalSince1970: $0["first"]),
                    lastSeen: Date(timeIntervalSince1970: $0["last"]), verdicts: $0["n"], passes: $0["passes"] ?? 0)
            }
        }
    }
}
