import EvaldCore
import EvaldStore
import Foundation

/// The alerts of the team's own changes: `PromptVersionChanged` / `ModelChanged` (info),
/// `PromptRegression` / `ModelRegression` (critical) and `VariantWorse` (warning).
extension AlertBuilder {
    func changeActions(_ events: [ChangeWatch.Event], route: String, dimension: ChangeWatch.Dimension) -> [DetectionAlertAction] {
        var actions: [DetectionAlertAction] = []
        let noun = AlertCatalog.changeNoun(dimension)
        for event in events {
            switch event {
            case .changed(let change, let watched):
                let metrics = (watched.tests.keys.map { $0 } + watched.meanTests.keys.map { $0 } + (watched.valueTests ?? [:]).keys.map { $0 }).sorted()
                let shown = metrics.map { key in
                    let split = AlertCatalog.changeMetric(key, dimension)
                    return (split.model.map { "\($0) " } ?? "") + split.metric + (split.meanScore ? " (mean score)" : "")
                }
                let plan =
                    metrics.isEmpty
                    ? "No before/after test: \(change.before) had fewer than \(config.detection.driftMinSamples) samples (detection.drift_min_samples) on every metric."
                    : "Before/after tests started on \(metrics.count) metrics (\(shown.prefix(8).joined(separator: ", "))\(metrics.count > 8 ? ", ..." : "")) at a false-alert probability of \(config.detection.driftAlpha) for the change; \(AlertCatalog.changeRegressionName(dimension)) fires if the new \(noun) is worse by detection.min_drop (\(config.detection.minDrop)) or more."
                actions.append(
                    .fire(
                        firing(
                            AlertCatalog.changeName(dimension), .info,
                            labels: AlertCatalog.changeLabels(route: route, dimension, before: change.before, after: change.after),
                            summary: "New \(noun) on \(route): \(change.before) -> \(change.after)",
                            description:
                                "\(route) answered with \(noun) \(change.after) (\(change.evaluationID > 0 ? "evaluation e-\(change.evaluationID) " : "")at \(RFC3339.format(Date(timeIntervalSince1970: change.at), fractional: false))); before: \(change.before). \(plan)",
                            numbers: ["metrics_watched": Double(metrics.count), "changed_at": change.at],
                            examples: change.evaluationID > 0 ? [change.evaluationID] : []),
                        receivers: receiverNames(.info)))
            case .regression(let change, let watched, let metric, let numbers):
                let labels = AlertCatalog.changeRegressionLabels(route: route, dimension, before: change.before, after: change.after, metricKey: metric)
                let split = AlertCatalog.changeMetric(metric, dimension)
                let place = split.model.map { "\(route)/\($0)" } ?? route
                let statistic = sequentialStatistic(numbers, name: "log statistic", per: "change")
                let summary: String, description: String, examples: [Int64]
                if metric.hasSuffix(ProviderVersionWatch.logValueSuffix) {
                    let before = numbers["value_before"] ?? .nan, after = numbers["value_after"] ?? .nan
                    func shown(_ value: Double) -> String { AlertCatalog.value(value, .logValue, metric: split.metric) }
                    let what = split.metric == MetricName.cost ? "Typical cost per call" : "Typical latency"
                    summary =
                        "\(what) (\(split.metric)) on \(place) rose with the \(noun) change \(change.before) -> \(change.after): \(shown(before)) -> \(shown(after))"
                    description =
                        "\(noun) \(change.before): typical (geometric mean) \(shown(before)) over \(Int(numbers["n_before"] ?? 0)) calls; \(noun) \(change.after): \(shown(after)) over \(Int(numbers["n_after"] ?? 0)) calls. Mixture SPRT on log values against a rise of 25% or more, \(statistic)."
                    examples = watched.valueTests?[metric]?.examples ?? []
                } else if split.meanScore {
                    let before = numbers["mean_before"] ?? .nan, after = numbers["mean_after"] ?? .nan
                    summary =
                        "Mean score of \(split.metric) on \(place) dropped with the \(noun) change \(change.before) -> \(change.after): \(String(format: "%.2f", before)) -> \(String(format: "%.2f", after))"
                    description = Self.beforeAfter(
                        .meanScore, numbers, before: "\(noun) \(change.before)", after: "\(noun) \(change.after)", statistic: statistic)
                    examples = watched.meanTests[metric]?.examples ?? []
                } else {
                    let before = numbers["rate_before"] ?? .nan, after = numbers["rate_after"] ?? .nan
                    summary =
                        "\(split.metric) on \(place) dropped with the \(noun) change \(change.before) -> \(change.after): pass rate \(AlertCatalog.rate(before)) -> \(AlertCatalog.rate(after))"
                    description = Self.beforeAfter(
                        .passRate, numbers, before: "\(noun) \(change.before)", after: "\(noun) \(change.after)", statistic: statistic)
                    examples = watched.tests[metric]?.examples ?? []
                }
                var alert = firing(
                    AlertCatalog.changeRegressionName(dimension), .critical, labels: labels, summary: summary, description: description,
                    numbers: numbers.merging(["changed_at": change.at]) { a, _ in a }, examples: examples)
                if split.metric.hasPrefix("judge:") { alert.annotations["judge_identity"] = judgeIdentity(metric, dimension) }
                actions.append(.fire(alert, receivers: receiverNames(.critical)))
            case .variantWorse(let change, let metric, let numbers, let examples):
                let labels = AlertCatalog.variantLabels(route: route, dimension, incumbent: change.before, variant: change.after, metricKey: metric)
                let split = AlertCatalog.changeMetric(metric, dimension)
                let place = split.model.map { "\(route)/\($0)" } ?? route
                let level = split.meanScore ? "mean" : "rate"
                func shown(_ value: Double?) -> String {
                    split.meanScore ? String(format: "%.2f", value ?? .nan) : AlertCatalog.rate(value)
                }
                let what = split.meanScore ? "mean score" : "pass rate"
                var alert = firing(
                    "VariantWorse", .warning, labels: labels,
                    summary:
                        "\(noun) \(change.after) is worse than \(change.before) on \(split.metric) (\(place)), side by side: \(what) \(shown(numbers["\(level)_variant"])) vs \(shown(numbers["\(level)_incumbent"]))",
                    description:
                        "Since \(RFC3339.format(Date(timeIntervalSince1970: change.at), fractional: false)), \(change.before) (incumbent): \(what) \(shown(numbers["\(level)_incumbent"])) over \(Int(numbers["n_incumbent"] ?? 0)) samples; \(change.after): \(shown(numbers["\(level)_variant"])) over \(Int(numbers["n_variant"] ?? 0)) samples. Difference \(String(format: "%+.3f", numbers["difference"] ?? .nan)), anytime-valid interval [\(String(format: "%+.3f", numbers["ci_low"] ?? .nan)), \(String(format: "%+.3f", numbers["ci_high"] ?? .nan))] at alpha \(String(format: "%.4g", numbers["alpha"] ?? 0)) (detection.drift_alpha \(config.detection.driftAlpha) per change, split over the metrics).",
                    numbers: numbers, examples: examples)
                if split.metric.hasPrefix("judge:") { alert.annotations["judge_identity"] = judgeIdentity(metric, dimension) }
                actions.append(.fire(alert, receivers: receiverNames(.warning)))
            case .settled(let change, let watched):
                actions.append(
                    .resolve(
                        fingerprint: AlertFingerprint.of(AlertCatalog.changeLabels(route: route, dimension, before: watched.before, after: watched.after)),
                        numbers: ["state_\(watched.state.rawValue)": 1], receivers: receiverNames(.info)))
                guard watched.superseded, let change else { continue }
                let why = change.rolledBack ? "rolled_back" : "superseded"
                for metric in Self.changeAlertedMetrics(change, watched) {
                    actions.append(
                        .resolve(
                            fingerprint: AlertFingerprint.of(
                                AlertCatalog.changeRegressionLabels(route: route, dimension, before: change.before, after: change.after, metricKey: metric)),
                            numbers: [why: 1], receivers: receiverNames(.critical)))
                }
                for metric in change.comparisons.filter(\.value.alerted).keys.sorted() {
                    actions.append(
                        .resolve(
                            fingerprint: AlertFingerprint.of(
                                AlertCatalog.variantLabels(route: route, dimension, incumbent: change.before, variant: change.after, metricKey: metric)),
                            numbers: [why: 1], receivers: receiverNames(.warning)))
                }
            }
        }
        return actions
    }

    /// The metrics whose regression a change alerted: tests that found drift on a deploy
    /// (a pending change's findings are alerted when it turns out a deploy, a slice's never).
    static func changeAlertedMetrics(_ change: ChangeWatch.Change, _ watched: ProviderVersionWatch.Switch) -> [String] {
        guard change.kind == .deploy else { return [] }
        return alertedMetrics(watched).sorted()
    }

    private func judgeIdentity(_ metric: String, _ dimension: ChangeWatch.Dimension) -> String {
        var key = Substring(metric)
        if dimension == .promptVersion, let bar = key.firstIndex(of: "|") { key = key[key.index(after: bar)...] }
        return String(key.dropFirst(6).prefix { $0 != "#" })
    }
}
