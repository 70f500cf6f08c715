import EvaldCore
import EvaldStore
import Foundation

/// What `evald metrics` shows: one row per series (metric, route, model) over a window.
public struct MetricsReport: Sendable {
    public struct Row: Sendable {
        public var metric: String
        /// For judge series, the judge identity (`helpfulness@3+1a2b3c4d`); `metric` is `judge:NAME`.
        public var judge: String?
        public var route: String
        public var model: String
        public var n: Int64
        /// Pass-rate series (checks, judges).
        public var passRate: Double?
        public var ciLow: Double?
        public var ciHigh: Double?
        public var meanScore: Double?
        /// The headline value of an `op:` series: the error rate, or the mean per call.
        public var value: Double?
        public var p50: Double?
        public var p95: Double?
        /// The detector's baseline for the series, in the row's own terms: the pass
        /// rate, the error rate for op:error_rate, the typical (geometric-mean) value for
        /// latency and cost; nil until the series has history.
        public var baseline: Double?
        /// passRate (or value, or p50 for latency and cost) minus the baseline.
        public var delta: Double?
        /// Judge series: verdicts that were judge errors (never scored, so not in `n`), by kind.
        public var judgeErrors: [String: Int64] = [:]

        public var judgeErrorCount: Int64 { judgeErrors.values.reduce(0, +) }
        /// Judge errors among all verdicts (scores and errors).
        public var judgeErrorRate: Double? {
            let total = n + judgeErrorCount
            return judge != nil && total > 0 ? Double(judgeErrorCount) / Double(total) : nil
        }
    }

    public var window: String
    public var since: Date
    public var until: Date
    public var rows: [Row]

    /// - Parameter passFailJudges: names of `scale: pass_fail` judges: their rows have no mean score
    ///   (it would only repeat the pass rate as 0 or 1).
    public static func gather(
        store: StateStore?, window: String, seconds: Double, until: Date, route: String?, model: String?, passFailJudges: Set<String> = []
    ) throws -> MetricsReport {
        let since = until - seconds
        let totals = try store?.seriesTotals(since: since, until: until, route: route, model: model) ?? []
        let monitors = Self.monitors(store)
        var rows = totals.map { series -> Row in
            let c = series.cell
            var row = Row(metric: series.metric, route: series.route, model: series.model, n: c.n)
            // Judge series are stored per identity; the CLI names the metric judge:NAME.
            if series.metric.hasPrefix("judge:"), let at = series.metric.firstIndex(of: "@") {
                row.judge = String(series.metric[series.metric.index(series.metric.startIndex, offsetBy: 6)...])
                row.metric = String(series.metric[..<at])
            }
            switch series.metric {
            case MetricName.errorRate:
                // pass_rate and its interval mean the same in every row (the share that went
                // well); the error rate itself is the value.
                row.passRate = c.n > 0 ? Double(c.passN) / Double(c.n) : nil
                row.value = c.n > 0 ? Double(c.n - c.passN) / Double(c.n) : nil
                if let ci = WilsonInterval.bounds(passes: c.passN, n: c.n) { (row.ciLow, row.ciHigh) = ci }
            case MetricName.latency, MetricName.cost, MetricName.outputTokens:
                row.value = c.n > 0 ? c.sum / Double(c.n) : nil
                row.p50 = c.histogram?.quantile(0.5)
                row.p95 = c.histogram?.quantile(0.95)
            case MetricName.feedbackScore:
                // The mean of the users' numbers; there is no pass or fail.
                row.meanScore = c.n > 0 ? c.sum / Double(c.n) : nil
            default:
                row.passRate = c.n > 0 ? Double(c.passN) / Double(c.n) : nil
                if let ci = WilsonInterval.bounds(passes: c.passN, n: c.n) { (row.ciLow, row.ciHigh) = ci }
                if c.sum != 0 || series.metric.hasPrefix("judge:") { row.meanScore = c.n > 0 ? c.sum / Double(c.n) : nil }
            }
            if row.judge != nil, passFailJudges.contains(String(row.metric.dropFirst("judge:".count))) { row.meanScore = nil }
            addBaseline(&row, monitors, at: until)
            return row
        }
        // Judge errors are verdicts without a score: a judge that failed every call has no
        // series of its own, and still gets a row (n = 0) with its errors.
        for error in try store?.judgeErrorTotals(since: since, until: until, route: route, model: model) ?? [] {
            if let index = rows.firstIndex(where: { $0.judge == error.identity && $0.route == error.route && $0.model == error.model }) {
                rows[index].judgeErrors[error.kind, default: 0] += error.count
            } else {
                let name = String(error.identity.prefix { $0 != "@" })
                var row = Row(metric: "judge:\(name)", judge: error.identity, route: error.route, model: error.model, n: 0)
                row.judgeErrors[error.kind] = error.count
                rows.append(row)
            }
        }
        return MetricsReport(window: window, since: since, until: until, rows: rows)
    }

    /// "16 (100%: no_json 12, truncated 4)"; empty for a row that is not a judge's or has none.
    static func judgeErrorText(_ row: Row) -> String {
        guard row.judge != nil, row.judgeErrorCount > 0, let rate = row.judgeErrorRate else { return "" }
        let kinds = row.judgeErrors.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return "\(row.judgeErrorCount) (\(String(format: "%.0f%%", rate * 100)): \(kinds))"
    }

    /// The quality gauges of `/metrics`: per check and judge series (`check:NAME`,
    /// `judge:NAME`), the pass rate over the hour of trace time before `now` (a judge's
    /// versions together) and the baseline pass rate of the series' detector (frozen while its
    /// alert is open), each where there is one.
    public static func qualityLevels(store: StateStore?, now: Date, monitors: [String: SeriesMonitor]? = nil) throws -> [QualityMetrics.Level] {
        func quality(_ metric: String) -> Bool { metric.hasPrefix("check:") || metric.hasPrefix("judge:") }
        var counts: [QualityLabels: (n: Int64, pass: Int64)] = [:]
        for series in try store?.seriesTotals(since: now - 3600, until: now) ?? [] where quality(series.metric) && series.cell.n > 0 {
            let metric = series.metric.hasPrefix("judge:") ? String(series.metric.prefix { $0 != "@" }) : series.metric
            let labels = QualityLabels(name: metric, route: series.route, model: series.model)
            counts[labels, default: (0, 0)].n += series.cell.n
            counts[labels, default: (0, 0)].pass += series.cell.passN
        }
        var levels: [QualityLabels: QualityMetrics.Level] = [:]
        for (labels, count) in counts {
            levels[labels] = QualityMetrics.Level(labels: labels, passRate: Double(count.pass) / Double(count.n), baseline: nil)
        }
        let t = now.timeIntervalSince1970
        for monitor in (monitors ?? Self.monitors(store)).values where monitor.key.measure == .passRate && quality(monitor.key.metric) {
            let base = monitor.open.map { monitor.baseline(at: $0.firedAt) } ?? monitor.baseline(at: t)
            guard let level = base.level(.passRate) else { continue }
            let labels = QualityLabels(name: monitor.key.metric, route: monitor.key.route, model: monitor.key.model)
            levels[labels, default: QualityMetrics.Level(labels: labels, passRate: nil, baseline: nil)].baseline = level
        }
        return Array(levels.values)
    }

    /// The detectors' monitors by (metric, measure, route, model).
    public static func monitors(_ store: StateStore?) -> [String: SeriesMonitor] {
        guard let states = try? store?.detectionStates(kind: DetectionStateCodec.seriesKind) else { return [:] }
        let decoder = DetectionStateCodec.decoder()
        var monitors: [String: SeriesMonitor] = [:]
        for (key, json) in states { monitors[key] = try? decoder.decode(SeriesMonitor.self, from: Data(json.utf8)) }
        return monitors
    }

    static func addBaseline(_ row: inout Row, _ monitors: [String: SeriesMonitor], at until: Date) {
        let t = until.timeIntervalSince1970
        func level(_ measure: SeriesMeasure) -> Double? {
            let key = SeriesKey(metric: row.metric, measure: measure, route: row.route, model: row.model).description
            guard let monitor = monitors[key], row.judge == nil || monitor.identity == row.judge else { return nil }
            let base = monitor.open == nil ? monitor.baseline(at: t) : monitor.baseline(at: monitor.open!.firedAt)
            return base.level(measure)
        }
        switch row.metric {
        case MetricName.errorRate:
            row.baseline = level(.passRate).map { 1 - $0 }
            if let baseline = row.baseline, let value = row.value { row.delta = value - baseline }
        case MetricName.latency, MetricName.cost:
            row.baseline = level(.logValue)
            if let baseline = row.baseline, let p50 = row.p50 { row.delta = p50 - baseline }
        case MetricName.outputTokens:
            return
        case MetricName.feedbackScore:
            row.baseline = level(.meanScore)
            if let baseline = row.baseline, let mean = row.meanScore { row.delta = mean - baseline }
        default:
            row.baseline = level(.passRate)
            if let baseline = row.baseline, let rate = row.passRate { row.delta = rate - baseline }
        }
    }

    public var json: JSONValue {
        func round(_ value: Double?, _ digits: Double = 1e4) -> JSONValue {
            value.map { .double(($0 * digits).rounded() / digits) } ?? .null
        }
        return .object([
            ("window", .string(window)),
            ("since", .string(RFC3339.format(since, fractional: false))),
            ("until", .string(RFC3339.format(until, fractional: false))),
            (
                "series",
                .array(
                    rows.map { row in
                        .object([
                            ("metric", .string(row.metric)),
                            ("judge", .optional(row.judge)),
                            ("route", .string(row.route)),
                            ("model", .string(row.model)),
                            ("n", .int(row.n)),
                            ("pass_rate", round(row.passRate)),
                            ("ci_low", round(row.ciLow)),
                            ("ci_high", round(row.ciHigh)),
                            ("mean_score", round(row.meanScore)),
                            ("value", round(row.value, 1e6)),
                            ("p50", round(row.p50, 10)),
                            ("p95", round(row.p95, 10)),
                            ("baseline", round(row.baseline, row.metric == MetricName.cost ? 1e6 : 1e4)),
                            ("delta", round(row.delta, row.metric == MetricName.cost ? 1e6 : 1e4)),
                            ("judge_errors", row.judge == nil ? .null : .int(row.judgeErrorCount)),
                            ("judge_error_rate", round(row.judgeErrorRate)),
                            (
                                "judge_errors_by_kind",
                                row.judge == nil ? .null : .object(row.judgeErrors.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })
                            ),
                        ])
                    })
            ),
        ])
    }

    public var text: String {
        guard !rows.isEmpty else {
            return
                "no evaluations between \(RFC3339.format(since, fractional: false)) and \(RFC3339.format(until, fractional: false)) (window \(window)); try a longer --window or --until"
        }
        func percent(_ v: Double?) -> String { v.map { String(format: "%.1f%%", $0 * 100) } ?? "" }
        func number(_ v: Double?) -> String {
            guard let v else { return "" }
            if v >= 100 { return String(format: "%.0f", v) }
            if v >= 1 { return String(format: "%.1f", v) }
            return String(format: "%.5f", v)
        }
        var table: [[String]] = [
            ["METRIC", "ROUTE", "MODEL", "N", "PASS", "95% CI", "SCORE", "VALUE", "P50", "P95", "BASELINE", "DELTA", "JUDGE ERRORS"]
        ]
        for row in rows {
            // Rates as percentages (delta in points), values in their unit.
            let isRate = row.metric != MetricName.latency && row.metric != MetricName.cost && row.metric != MetricName.outputTokens
            let baselineText = row.baseline.map { isRate ? percent($0) : number($0) } ?? ""
            let deltaText = row.delta.map { isRate ? String(format: "%+.1f", $0 * 100) : String(format: "%+.3g", $0) } ?? ""
            let ci = row.ciLow.map { "\(percent($0))-\(percent(row.ciHigh))" } ?? ""
            let value = row.metric == MetricName.errorRate ? percent(row.value) : number(row.value)
            table.append([
                row.judge.map { "judge:\($0)" } ?? row.metric, row.route.isEmpty ? "-" : row.route, row.model, String(row.n), percent(row.passRate), ci,
                number(row.meanScore), value, number(row.p50), number(row.p95), baselineText, deltaText, Self.judgeErrorText(row),
            ])
        }
        let widths = table[0].indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        let header = "window \(window): \(RFC3339.format(since, fractional: false)) .. \(RFC3339.format(until, fractional: false))"
        return header + "\n"
            + table.map { cells in
                cells.enumerated().map { index, cell in
                    let pad = String(repeating: " ", count: widths[index] - cell.count)
                    return index >= 3 && index < cells.count - 1 ? pad + cell : cell + pad
                }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
            }.joined(separator: "\n")
    }
}
