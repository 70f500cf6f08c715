import Foundation

/// The labels of one quality series: a check's or a judge's name (or a detector's metric),
/// the route ("" for traces without one) and the model.
public struct QualityLabels: Hashable, Sendable, Comparable {
    public var name: String
    public var route: String
    public var model: String

    public init(name: String, route: String, model: String) {
        self.name = name
        self.route = route
        self.model = model
    }

    public static func < (a: QualityLabels, b: QualityLabels) -> Bool {
        (a.name, a.route, a.model) < (b.name, b.route, b.model)
    }
}

/// Check verdicts per (check, route, model), tallied as evaluations are committed. Grouped by
/// (route, model) first: a route runs the same checks in the same order on every trace, so a
/// trace costs one lookup, not one per check.
public struct CheckTally: Sendable, Equatable {
    struct RouteModel: Hashable, Sendable {
        var route: String
        var model: String
    }

    struct Counts: Sendable, Equatable {
        var name: String
        var pass: Int64 = 0
        var fail: Int64 = 0
    }

    private var byRouteModel: [RouteModel: [Counts]] = [:]

    public init() {}

    public var isEmpty: Bool { byRouteModel.isEmpty }

    /// One trace's check verdicts.
    public mutating func add(route: String?, model: String, results: [CheckResult]) {
        guard !results.isEmpty else { return }
        Self.add(
            results.lazy.map { ($0.name, $0.passed ? 1 : 0, $0.passed ? 0 : 1) }, into: &byRouteModel[RouteModel(route: route ?? "", model: model), default: []]
        )
    }

    public mutating func merge(_ other: CheckTally) {
        for (key, counts) in other.byRouteModel {
            Self.add(counts.lazy.map { ($0.name, $0.pass, $0.fail) }, into: &byRouteModel[key, default: []])
        }
    }

    private static func add(_ results: some Sequence<(String, Int64, Int64)>, into list: inout [Counts]) {
        for (index, (name, pass, fail)) in results.enumerated() {
            let at: Int
            if index < list.count, list[index].name == name {
                at = index
            } else if let found = list.firstIndex(where: { $0.name == name }) {
                at = found
            } else {
                list.append(Counts(name: name))
                at = list.count - 1
            }
            list[at].pass += pass
            list[at].fail += fail
        }
    }

    /// Every series with its passes and failures, by check name, route and model.
    public var series: [(labels: QualityLabels, pass: Int64, fail: Int64)] {
        byRouteModel.flatMap { key, counts in
            counts.map { (QualityLabels(name: $0.name, route: key.route, model: key.model), $0.pass, $0.fail) }
        }.sorted { $0.labels < $1.labels }
    }
}

/// The quality families of `/metrics`, bounded by `http.metrics_series_limit`: check results,
/// judge verdicts and usage per route and model (counters since the process started, like
/// evald's other counters) and the detectors' pass rates and baselines (gauges, read at each
/// scrape).
///
/// A counter series is admitted with its first observation while the limit has room and is
/// then exported for the life of the process (a counter must not vanish); the observations of
/// a series that did not fit are counted in `evald_metrics_series_dropped_total{family}`. The
/// gauges share what the counters leave, in (metric, route, model) order; each sample left out
/// of a scrape counts one there too.
public struct QualityMetrics: Sendable {
    public struct PassFail: Sendable, Equatable {
        public var pass: Int64 = 0
        public var fail: Int64 = 0
    }

    public struct Verdicts: Sendable, Equatable {
        public var pass: Int64 = 0
        public var fail: Int64 = 0
        public var scoreSum: Double = 0
        public var count: Int64 { pass + fail }
    }

    /// A detector series' levels at a scrape: `metric` is `check:NAME` or `judge:NAME`.
    public struct Level: Sendable, Equatable {
        public var labels: QualityLabels
        public var passRate: Double?
        public var baseline: Double?

        public init(labels: QualityLabels, passRate: Double?, baseline: Double?) {
            self.labels = labels
            self.passRate = passRate
            self.baseline = baseline
        }

        var seriesCount: Int { (passRate == nil ? 0 : 1) + (baseline == nil ? 0 : 1) }
    }

    /// Series a check exports (`result="pass"` and `"fail"`).
    static let checkSeries = 2
    /// Series a judge exports: two verdict counters, the score's `_sum` and `_count`.
    static let judgeSeries = 4
    /// Series a (route, model) exports in usage: calls, input and output tokens, cost. Each of
    /// its error classes takes one more.
    static let usageSeries = 4

    public let limit: Int
    public private(set) var checks: [QualityLabels: PassFail] = [:]
    public private(set) var judges: [QualityLabels: Verdicts] = [:]
    /// Usage of the admitted (route, model) pairs; `errorClasses` holds the admitted classes.
    public private(set) var usage: [UsageTotals.Key: UsageTotals.Sums] = [:]
    /// The families whose cuts are counted, each with the label value it is counted under.
    public static let families = [
        "evald_check_results_total", "evald_judge_verdicts_total", "evald_usage_calls_total", "evald_usage_errors_total", "evald_series_pass_rate",
        "evald_series_baseline",
    ]
    /// Observations (check and judge verdicts, calls, failed calls) and gauge samples cut by the
    /// limit, by family.
    public private(set) var dropped: [String: Int64] = [:]
    /// Series the admitted counters export.
    public private(set) var counterSeries = 0

    public init(limit: Int) {
        self.limit = max(0, limit)
    }

    private mutating func admit(_ series: Int) -> Bool {
        guard counterSeries + series <= limit else { return false }
        counterSeries += series
        return true
    }

    public mutating func add(_ tally: CheckTally) {
        for (labels, pass, fail) in tally.series {
            if checks[labels] == nil, !admit(Self.checkSeries) {
                dropped["evald_check_results_total", default: 0] += pass + fail
                continue
            }
            checks[labels, default: PassFail()].pass += pass
            checks[labels, default: PassFail()].fail += fail
        }
    }

    /// A judge's scored verdict (`judge` is the rubric's name, not its versioned identity).
    public mutating func addVerdict(judge: String, route: String?, model: String, score: Double, passed: Bool) {
        let labels = QualityLabels(name: judge, route: route ?? "", model: model)
        if judges[labels] == nil, !admit(Self.judgeSeries) {
            dropped["evald_judge_verdicts_total", default: 0] += 1
            return
        }
        var verdicts = judges[labels] ?? Verdicts()
        if passed { verdicts.pass += 1 } else { verdicts.fail += 1 }
        verdicts.scoreSum += score
        judges[labels] = verdicts
    }

    /// Usage of committed batches. A (route, model) that does not fit has its calls counted as
    /// cut (`family="evald_usage_calls_total"`; its tokens and cost go with them), and its
    /// errors too (`"evald_usage_errors_total"`), as are the errors of a class that does not.
    public mutating func add(_ totals: UsageTotals) {
        for (key, sums) in totals.byRouteModel.sorted(by: { $0.key < $1.key }) {
            if usage[key] == nil, !admit(Self.usageSeries) {
                dropped["evald_usage_calls_total", default: 0] += sums.calls
                dropped["evald_usage_errors_total", default: 0] += sums.errors
                continue
            }
            var current = usage[key] ?? UsageTotals.Sums()
            current.calls += sums.calls
            current.inputTokens += sums.inputTokens
            current.outputTokens += sums.outputTokens
            // A counter never goes down: negative `cost_usd` values (credits) offset the costs read in
            // the same poll, down to 0.
            current.costUSD += max(0, sums.costUSD)
            for (errorClass, count) in sums.errorClasses.sorted(by: { $0.key < $1.key }) {
                if current.errorClasses[errorClass] == nil, !admit(1) {
                    dropped["evald_usage_errors_total", default: 0] += count
                    continue
                }
                current.errorClasses[errorClass, default: 0] += count
            }
            usage[key] = current
        }
    }

    /// The families in the Prometheus text format (HELP and TYPE even without a series, so
    /// dashboards and rules can name them from the start). Gauges beyond what the counters
    /// leave of the limit are cut and counted.
    public mutating func exposition(levels: [Level]) -> String {
        var room = limit - counterSeries
        var kept: [Level] = []
        for level in levels.sorted(by: { $0.labels < $1.labels }) {
            let cost = level.seriesCount
            if cost <= room {
                room -= cost
                kept.append(level)
            } else {
                if level.passRate != nil { dropped["evald_series_pass_rate", default: 0] += 1 }
                if level.baseline != nil { dropped["evald_series_baseline", default: 0] += 1 }
            }
        }

        var out = ""
        func header(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
            out += name
            if !labels.isEmpty {
                out += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
            }
            out += " \(value)\n"
        }
        func labels(_ first: String, _ l: QualityLabels) -> [(String, String)] {
            [(first, l.name), ("route", l.route), ("model", l.model)]
        }

        header("evald_check_results_total", "counter", "Deterministic check verdicts of stored evaluations, by check, route, model and result (pass or fail).")
        for (l, counts) in checks.sorted(by: { $0.key < $1.key }) {
            sample("evald_check_results_total", labels("check", l) + [("result", "pass")], String(counts.pass))
            sample("evald_check_results_total", labels("check", l) + [("result", "fail")], String(counts.fail))
        }
        let sortedJudges = judges.sorted(by: { $0.key < $1.key })
        header("evald_judge_verdicts_total", "counter", "Scored judge verdicts, by judge, route, model and result (pass or fail).")
        for (l, verdicts) in sortedJudges {
            sample("evald_judge_verdicts_total", labels("judge", l) + [("result", "pass")], String(verdicts.pass))
            sample("evald_judge_verdicts_total", labels("judge", l) + [("result", "fail")], String(verdicts.fail))
        }
        header("evald_judge_score", "summary", "Scores of scored judge verdicts, by judge, route and model.")
        for (l, verdicts) in sortedJudges {
            sample("evald_judge_score_sum", labels("judge", l), Self.number(verdicts.scoreSum))
            sample("evald_judge_score_count", labels("judge", l), String(verdicts.count))
        }
        renderUsage(header: header, sample: sample)
        header("evald_series_pass_rate", "gauge", "Pass rate over the last hour of a series the detectors watch, by metric, route and model.")
        for level in kept {
            if let rate = level.passRate { sample("evald_series_pass_rate", labels("metric", level.labels), Self.number(rate)) }
        }
        header("evald_series_baseline", "gauge", "The detector's baseline pass rate of a series, by metric, route and model.")
        for level in kept {
            if let baseline = level.baseline { sample("evald_series_baseline", labels("metric", level.labels), Self.number(baseline)) }
        }
        header(
            "evald_metrics_series_dropped_total", "counter",
            "Quality and usage observations (check and judge verdicts, calls, errors) and gauge samples left out of /metrics by http.metrics_series_limit, by family."
        )
        for family in Self.families {
            sample("evald_metrics_series_dropped_total", [("family", family)], String(dropped[family] ?? 0))
        }
        return out
    }

    private func renderUsage(header: (String, String, String) -> Void, sample: (String, [(String, String)], String) -> Void) {
        let sorted = usage.sorted(by: { $0.key < $1.key })
        func labels(_ key: UsageTotals.Key) -> [(String, String)] { [("route", key.route), ("model", key.model)] }
        header("evald_usage_calls_total", "counter", "LLM calls of every record read (sampled or not, native or OTLP), by route and model.")
        for (key, sums) in sorted { sample("evald_usage_calls_total", labels(key), String(sums.calls)) }
        header("evald_usage_errors_total", "counter", "LLM calls that failed (status error), by route, model and error class.")
        for (key, sums) in sorted {
            for (errorClass, count) in sums.errorClasses.sorted(by: { $0.key < $1.key }) {
                sample("evald_usage_errors_total", labels(key) + [("class", errorClass)], String(count))
            }
        }
        header("evald_usage_tokens_total", "counter", "Tokens of LLM calls, by route, model and direction (input or output).")
        for (key, sums) in sorted {
            sample("evald_usage_tokens_total", labels(key) + [("direction", "input")], String(sums.inputTokens))
            sample("evald_usage_tokens_total", labels(key) + [("direction", "output")], String(sums.outputTokens))
        }
        header("evald_usage_cost_usd_total", "counter", "Cost in USD of LLM calls (their cost_usd, else priced from pricing:), by route and model.")
        for (key, sums) in sorted { sample("evald_usage_cost_usd_total", labels(key), Self.number(sums.costUSD)) }
    }

    /// A label value in the text format: backslash, double quote and line feed escaped.
    static func escape(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return "\(value)"
    }
}
