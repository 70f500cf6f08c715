import EvaldAlerting
import EvaldCore
import EvaldStore
import Foundation

/// Turns findings into alerts: labels, the summary and description with the numbers,
/// the runbook, and the receivers that take the severity. Shared by the health alerts, the
/// detection service and the golden-set canary (whose provider versions are watched the same way).
struct AlertBuilder {
    var config: EvaldConfig
    var receivers: [any AlertReceiver]

    func versionActions(_ events: [ProviderVersionWatch.Event], route: String, model: String) -> [DetectionAlertAction] {
        var actions: [DetectionAlertAction] = []
        for event in events {
            switch event {
            case .versionChanged(let change):
                let labels = versionLabels(route: route, model: model, change)
                let watching = change.tests.keys.sorted()
                let plan =
                    watching.isEmpty
                    ? "No drift test: the previous version had fewer than \(config.detection.driftMinSamples) samples (detection.drift_min_samples) on every metric."
                    : "Drift tests started on \(watching.count) metrics (\(watching.prefix(8).joined(separator: ", "))\(watching.count > 8 ? ", ..." : "")) at a false-alert probability of \(config.detection.driftAlpha) for the switch; ProviderDrift fires if the new version is worse."
                actions.append(
                    .fire(
                        firing(
                            "ProviderVersionChanged", .info, labels: labels,
                            summary: "Provider version changed on \(route)/\(model): \(change.before) -> \(change.after)",
                            description:
                                "\(route)/\(model) answered with \(change.after) (\(change.evaluationID > 0 ? "evaluation e-\(change.evaluationID) " : "")at \(RFC3339.format(Date(timeIntervalSince1970: change.at), fractional: false))); before: \(change.before). \(plan)",
                            numbers: ["metrics_watched": Double(watching.count), "switched_at": change.at],
                            examples: change.evaluationID > 0 ? [change.evaluationID] : []),
                        receivers: receiverNames(.info)))
            case .drift(let change, let metric, let numbers):
                let labels = driftLabels(route: route, model: model, change, metric: metric)
                let shown = labels["metric"] ?? metric
                let summary: String, description: String, examples: [Int64]
                let statistic = sequentialStatistic(numbers, name: "log-likelihood ratio", per: "switch")
                if metric.hasSuffix(ProviderVersionWatch.meanScoreSuffix) {
                    let before = numbers["mean_before"] ?? .nan, after = numbers["mean_after"] ?? .nan
                    summary =
                        "Mean score of \(shown) on \(route)/\(model) is lower since the provider switched \(change.before) -> \(change.after): \(String(format: "%.2f", before)) -> \(String(format: "%.2f", after))"
                    description = Self.beforeAfter(
                        .meanScore, numbers, before: "version \(change.before)", after: "version \(change.after)", statistic: statistic)
                    examples = change.meanTests[metric]?.examples ?? []
                } else {
                    let before = numbers["rate_before"] ?? .nan, after = numbers["rate_after"] ?? .nan
                    summary =
                        "\(shown) on \(route)/\(model) is worse since the provider switched \(change.before) -> \(change.after): pass rate \(AlertCatalog.rate(before)) -> \(AlertCatalog.rate(after))"
                    description = Self.beforeAfter(
                        .passRate, numbers, before: "version \(change.before)", after: "version \(change.after)", statistic: statistic)
                    examples = change.tests[metric]?.examples ?? []
                }
                var drift = firing(
                    "ProviderDrift", .warning, labels: labels, summary: summary, description: description,
                    numbers: numbers, examples: examples)
                if shown.hasPrefix("judge:") { drift.annotations["judge_identity"] = String(metric.dropFirst(6).prefix { $0 != "#" }) }
                actions.append(.fire(drift, receivers: receiverNames(.warning)))
            case .settled(let change):
                actions.append(
                    .resolve(
                        fingerprint: AlertFingerprint.of(versionLabels(route: route, model: model, change)),
                        numbers: ["state_\(change.state.rawValue)": 1], receivers: receiverNames(.info)))
                if change.superseded {
                    for metric in Self.alertedMetrics(change) {
                        actions.append(
                            .resolve(
                                fingerprint: AlertFingerprint.of(driftLabels(route: route, model: model, change, metric: metric)),
                                numbers: ["superseded": 1], receivers: receiverNames(.warning)))
                    }
                }
            }
        }
        return actions
    }

    /// The anytime-valid test's verdict in words: its statistic against ln(1/alpha), and the
    /// alpha it was given out of `detection.drift_alpha` for the switch or change.
    func sequentialStatistic(_ numbers: [String: Double], name: String, per scope: String) -> String {
        "\(name) \(String(format: "%.2f", numbers["statistic"] ?? 0)) >= ln(1/alpha) = \(String(format: "%.2f", numbers["threshold"] ?? 0)) "
            + "(alpha \(String(format: "%.4g", numbers["alpha"] ?? 0)) for this metric, detection.drift_alpha \(config.detection.driftAlpha) per \(scope))"
    }

    /// A before/after description (ProviderDrift, PromptRegression, ModelRegression): each
    /// side's pass rate or mean score with its sample count, then the test.
    static func beforeAfter(_ measure: SeriesMeasure, _ numbers: [String: Double], before: String, after: String, statistic: String) -> String {
        let nBefore = Int(numbers["n_before"] ?? 0), nAfter = Int(numbers["n_after"] ?? 0)
        if measure == .meanScore {
            let a = numbers["mean_before"] ?? .nan, b = numbers["mean_after"] ?? .nan
            return "\(before): mean score \(String(format: "%.2f", a)) over \(nBefore) scores (lower bound "
                + "\(String(format: "%.2f", numbers["reference_mean"] ?? .nan))); \(after): \(String(format: "%.2f", b)) over \(nAfter) scores. "
                + "Betting martingale on bounded scores, \(statistic)."
        }
        return "\(before): pass rate \(AlertCatalog.rate(numbers["rate_before"] ?? .nan)) over \(nBefore) samples; \(after): "
            + "\(AlertCatalog.rate(numbers["rate_after"] ?? .nan)) over \(nAfter) samples. Mixture SPRT \(statistic)."
    }

    func versionLabels(route: String, model: String, _ change: ProviderVersionWatch.Switch) -> [String: String] {
        AlertCatalog.versionLabels(route: route, model: model, before: change.before, after: change.after)
    }

    func driftLabels(route: String, model: String, _ change: ProviderVersionWatch.Switch, metric: String) -> [String: String] {
        AlertCatalog.driftLabels(route: route, model: model, before: change.before, after: change.after, metric: metric)
    }

    /// The metrics of a switch whose drift was alerted (pass-rate and mean-score tests).
    static func alertedMetrics(_ change: ProviderVersionWatch.Switch) -> [String] {
        change.tests.filter(\.value.alerted).map(\.key) + change.meanTests.filter(\.value.alerted).map(\.key)
            + (change.valueTests ?? [:]).filter(\.value.alerted).map(\.key)
    }

    func firing(
        _ name: String, _ severity: AlertSeverity, labels: [String: String], summary: String, description: String,
        numbers: [String: Double], examples: [Int64]
    ) -> AlertFiring {
        var labels = labels.filter { !$0.value.isEmpty }
        labels["alertname"] = name
        labels["severity"] = severity.rawValue
        var annotations = ["summary": summary, "description": description]
        annotations["runbook_url"] = config.alerts.runbookAnnotation(labels: labels)
        return AlertFiring(
            name: name, severity: severity.rawValue, labels: labels, annotations: annotations,
            fingerprint: AlertFingerprint.of(labels), numbers: numbers.filter { $0.value.isFinite }, examples: examples)
    }

    func receiverNames(_ severity: AlertSeverity) -> [String] {
        receivers.filter { $0.accepts(severity) }.map(\.name)
    }

    /// The receivers of a stored alert's severity (an unknown one is taken as warning).
    func receiverNames(_ severity: String) -> [String] {
        receiverNames(AlertSeverity(rawValue: severity) ?? .warning)
    }

}
