import Foundation

/// The alerts evald raises about series and provider versions: their names, severities,
/// labels, and how their numbers read in summaries and descriptions. Pure, so the rules are
/// tested as tables; the daemon adds the runbook link and the receivers (`AlertBuilder`).
public enum AlertCatalog {
    // MARK: series regressions

    /// The alert a series' regression fires.
    public static func regressionName(for key: SeriesKey) -> String {
        switch key.metric {
        case "op:error_rate": "ErrorRateRegression"
        case "op:latency_ms": "LatencyRegression"
        case "op:cost_usd": "CostSpike"
        default: "QualityRegression"
        }
    }

    /// Quality and error-rate regressions page; latency and cost warn.
    public static func regressionSeverity(for key: SeriesKey) -> AlertSeverity {
        switch key.metric {
        case "op:latency_ms", "op:cost_usd": .warning
        default: .critical
        }
    }

    public static func regressionLabels(_ key: SeriesKey) -> [String: String] {
        var labels = [
            "alertname": regressionName(for: key), "severity": regressionSeverity(for: key).rawValue,
            "route": key.route, "model": key.model, "metric": key.metric,
        ]
        if key.measure == .meanScore { labels["measure"] = key.measure.rawValue }
        return labels.filter { !$0.value.isEmpty }
    }

    /// A static floor's breach is a QualityRegression of its own (`rule=min_pass_rate`).
    public static func floorLabels(_ key: SeriesKey) -> [String: String] {
        [
            "alertname": "QualityRegression", "severity": AlertSeverity.critical.rawValue, "route": key.route, "model": key.model,
            "metric": key.metric, "rule": "min_pass_rate",
        ].filter { !$0.value.isEmpty }
    }

    /// What the series measures, for a person.
    public static func describe(_ key: SeriesKey) -> String {
        switch (key.metric, key.measure) {
        case ("op:error_rate", _): "Success rate (1 - op:error_rate)"
        case ("op:latency_ms", _): "Typical latency (op:latency_ms)"
        case ("op:cost_usd", _): "Typical cost per call (op:cost_usd)"
        case ("feedback:thumbs", _): "Share of thumbs up (feedback:thumbs)"
        case ("feedback:score", _): "Mean user rating (feedback:score)"
        case (_, .meanScore): "Mean score of \(key.metric)"
        default: "Pass rate of \(key.metric)"
        }
    }

    static func place(_ key: SeriesKey) -> String { "\(key.route.isEmpty ? "(no route)" : key.route)/\(key.model)" }

    /// A regression's summary and description from its numbers; `switchNote` names a provider
    /// version switch near the estimated start.
    public static func regressionText(_ key: SeriesKey, _ numbers: RegressionNumbers, switchNote: String? = nil) -> (summary: String, description: String) {
        let what = describe(key)
        let baseline = value(numbers.baseline, key.measure, metric: key.metric)
        let current = value(numbers.current, key.measure, metric: key.metric)
        let direction = key.measure == .logValue ? "rose" : "dropped"
        var description =
            "\(what) on \(place(key)): baseline \(baseline) over \(numbers.baselineSamples) samples; \(current) over the \(numbers.samples) samples since the estimated start"
        if let start = numbers.changeStart { description += " (\(RFC3339.format(Date(timeIntervalSince1970: start), fractional: false)))" }
        description +=
            ". One-sided CUSUM statistic \(String(format: "%.2f", numbers.statistic)) >= threshold \(String(format: "%.2f", numbers.threshold)), set for an in-control run length of \(Int(numbers.targetARL)) samples (this series' share of detection.false_alarm_every)."
        if let switchNote { description += " " + switchNote }
        return ("\(what) on \(place(key)) \(direction) from \(baseline) to \(current)", description)
    }

    /// The sentence a regression gets when its estimated start lies near a provider switch
    /// (or, with `what`, a prompt deploy or a model change).
    public static func switchNote(before: String, after: String, at: Double, what: String = "provider version switch") -> String {
        "The estimated start lies near the \(what) \(before) -> \(after) at \(RFC3339.format(Date(timeIntervalSince1970: at), fractional: false)): likely the cause."
    }

    public static func floorText(_ key: SeriesKey, _ numbers: FloorNumbers) -> (summary: String, description: String) {
        (
            "\(describe(key)) on \(place(key)) is under its floor: \(rate(numbers.current)) < min_pass_rate \(rate(numbers.minPassRate))",
            "pass rate \(rate(numbers.current)) over the last \(numbers.samples) samples, 99.7% upper bound \(rate(numbers.upperBound)), under the configured min_pass_rate \(rate(numbers.minPassRate))."
        )
    }

    // MARK: provider versions and golden sets

    public static func versionLabels(route: String, model: String, before: String, after: String) -> [String: String] {
        [
            "alertname": "ProviderVersionChanged", "severity": AlertSeverity.info.rawValue, "route": route, "model": model,
            "version_before": before, "version_after": after,
        ].filter { !$0.value.isEmpty }
    }

    /// ProviderDrift's labels; a judge metric is keyed by identity in the watch but labelled
    /// `judge:NAME` as everywhere else, the identity in an annotation.
    public static func driftLabels(route: String, model: String, before: String, after: String, metric: String) -> [String: String] {
        var labels = versionLabels(route: route, model: model, before: before, after: after)
        labels["metric"] = metric.hasPrefix("judge:") ? String(metric.prefix { $0 != "@" && $0 != "#" }) : metric
        if metric.hasSuffix(ProviderVersionWatch.meanScoreSuffix) { labels["measure"] = "mean_score" }
        labels["alertname"] = "ProviderDrift"
        labels["severity"] = AlertSeverity.warning.rawValue
        return labels
    }

    // MARK: the team's changes: prompt deploys, model swaps, variants

    /// `PromptVersionChanged` or `ModelChanged`.
    public static func changeName(_ dimension: ChangeWatch.Dimension) -> String {
        dimension == .promptVersion ? "PromptVersionChanged" : "ModelChanged"
    }

    /// `PromptRegression` or `ModelRegression`.
    public static func changeRegressionName(_ dimension: ChangeWatch.Dimension) -> String {
        dimension == .promptVersion ? "PromptRegression" : "ModelRegression"
    }

    /// What a change is called in sentences.
    public static func changeNoun(_ dimension: ChangeWatch.Dimension) -> String {
        dimension == .promptVersion ? "prompt version" : "model"
    }

    /// A change watch's metric key, split: prompt watches key by `MODEL|METRIC`.
    public static func changeMetric(_ key: String, _ dimension: ChangeWatch.Dimension) -> (model: String?, metric: String, meanScore: Bool) {
        var metric = Substring(key.hasSuffix(ProviderVersionWatch.logValueSuffix) ? String(key.dropLast(ProviderVersionWatch.logValueSuffix.count)) : key)
        var model: String?
        if dimension == .promptVersion, let bar = metric.firstIndex(of: "|") {
            model = String(metric[..<bar])
            metric = metric[metric.index(after: bar)...]
        }
        let meanScore = metric.hasSuffix(ProviderVersionWatch.meanScoreSuffix)
        let shown = metric.hasPrefix("judge:") ? String(metric.prefix { $0 != "@" && $0 != "#" }) : String(metric)
        return (model, shown, meanScore)
    }

    /// The key of a prompt watch's metric.
    public static func promptMetricKey(model: String, metric: String) -> String { "\(model)|\(metric)" }

    /// `PromptVersionChanged`: route, prompt_version, previous_prompt_version; `ModelChanged`:
    /// route, model, previous_model.
    public static func changeLabels(route: String, _ dimension: ChangeWatch.Dimension, before: String, after: String) -> [String: String] {
        var labels = ["alertname": changeName(dimension), "severity": AlertSeverity.info.rawValue, "route": route]
        switch dimension {
        case .promptVersion:
            labels["prompt_version"] = after
            labels["previous_prompt_version"] = before
        case .model:
            labels["model"] = after
            labels["previous_model"] = before
        }
        return labels.filter { !$0.value.isEmpty }
    }

    /// `PromptRegression` / `ModelRegression`: the change's labels, the metric, and for a prompt
    /// change the model whose rate dropped; `measure=mean_score` for a mean-score test.
    public static func changeRegressionLabels(
        route: String, _ dimension: ChangeWatch.Dimension, before: String, after: String, metricKey: String
    ) -> [String: String] {
        var labels = changeLabels(route: route, dimension, before: before, after: after)
        let split = changeMetric(metricKey, dimension)
        labels["alertname"] = changeRegressionName(dimension)
        labels["severity"] = AlertSeverity.critical.rawValue
        labels["metric"] = split.metric
        if let model = split.model, !model.isEmpty { labels["model"] = model }
        if split.meanScore { labels["measure"] = "mean_score" }
        return labels
    }

    /// `VariantWorse`: route, metric, variant, incumbent, by (and model for prompt variants).
    public static func variantLabels(
        route: String, _ dimension: ChangeWatch.Dimension, incumbent: String, variant: String, metricKey: String
    ) -> [String: String] {
        let split = changeMetric(metricKey, dimension)
        var labels = [
            "alertname": "VariantWorse", "severity": AlertSeverity.warning.rawValue, "route": route, "metric": split.metric,
            "variant": variant, "incumbent": incumbent, "by": dimension.rawValue,
        ]
        if let model = split.model, !model.isEmpty { labels["model"] = model }
        if split.meanScore { labels["measure"] = "mean_score" }
        return labels.filter { !$0.value.isEmpty }
    }

    // MARK: the judge's own version

    /// `JudgeDrift`: the judge and its two versions.
    public static func judgeDriftLabels(judge: String, before: String, after: String) -> [String: String] {
        [
            "alertname": "JudgeDrift", "severity": AlertSeverity.warning.rawValue, "judge": judge, "version_before": before,
            "version_after": after,
        ]
    }

    /// JudgeDrift's summary and description from the recheck's numbers.
    public static func judgeDriftText(judge: String, before: String, after: String, _ test: JudgeRecheckTest) -> (summary: String, description: String) {
        var moved: [String] = []
        var details: [String] = []
        for comparison in test.comparisons {
            let what = comparison.measure == .meanScore ? "mean score" : "pass rate"
            let format = comparison.measure == .meanScore ? "%.2f" : "%.3f"
            let pair = "\(String(format: format, comparison.production)) -> \(String(format: format, comparison.candidate))"
            moved.append("\(what) \(pair)")
            details.append(
                "\(what) \(pair) (difference \(String(format: format, comparison.difference)), 95% interval \(String(format: format, comparison.ciLow)) to \(String(format: format, comparison.ciHigh)), p = \(String(format: "%.2g", comparison.pValue)))"
            )
        }
        let summary = "Judge \(judge)'s verdicts moved with its new version \(before) -> \(after): \(moved.joined(separator: ", "))"
        let description =
            "The judge's endpoint started answering as \(after) (was \(before)). \(test.pairs) stored traces its previous version judged were judged again by the new one; the two verdicts agree on \(String(format: "%.1f%%", test.agreement * 100)) of them: \(details.joined(separator: "; ")). Paired tests (McNemar, paired t) at detection.drift_alpha. The judge's series start a new baseline from the switch, so this is no application regression; recalibrate the judge (evald calibrate) or pin its model."
        return (summary, description)
    }

    public static func goldenLabels(set: String, metric: String, model: String, endpoint: String) -> [String: String] {
        [
            "alertname": "GoldenRegression", "severity": AlertSeverity.warning.rawValue, "route": "canary:\(set)", "model": model,
            "metric": metric, "golden_set": set, "endpoint": endpoint,
        ]
    }

    // MARK: numbers

    /// A rate with three decimals; "-" for none.
    public static func rate(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        return String(format: "%.3f", value)
    }

    /// A series' level as its measure reads: a rate, a mean score, milliseconds or dollars.
    public static func value(_ value: Double?, _ measure: SeriesMeasure, metric: String) -> String {
        guard let value, value.isFinite else { return "-" }
        switch measure {
        case .passRate: return rate(value)
        case .meanScore: return String(format: "%.2f", value)
        case .logValue: return metric == "op:cost_usd" ? String(format: "$%.5f", value) : String(format: "%.0f ms", value)
        }
    }
}
