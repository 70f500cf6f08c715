import EvaldCore
import Foundation
import Testing

/// The alerts' names, severities, labels and texts, as tables.
@Suite struct AlertCatalogTests {
    static func key(_ metric: String, _ measure: SeriesMeasure = .passRate, route: String = "support-chat") -> SeriesKey {
        SeriesKey(metric: metric, measure: measure, route: route, model: "gpt-4o-mini")
    }

    @Test(arguments: [
        ("check:no-pii", SeriesMeasure.passRate, "QualityRegression", AlertSeverity.critical),
        ("judge:helpfulness", .meanScore, "QualityRegression", .critical),
        ("op:error_rate", .passRate, "ErrorRateRegression", .critical),
        ("op:latency_ms", .logValue, "LatencyRegression", .warning),
        ("op:cost_usd", .logValue, "CostSpike", .warning),
    ])
    func regressionNamesAndSeverities(metric: String, measure: SeriesMeasure, name: String, severity: AlertSeverity) {
        let key = Self.key(metric, measure)
        #expect(AlertCatalog.regressionName(for: key) == name)
        #expect(AlertCatalog.regressionSeverity(for: key) == severity)
        let labels = AlertCatalog.regressionLabels(key)
        #expect(labels["alertname"] == name && labels["severity"] == severity.rawValue)
        #expect(labels["metric"] == metric && labels["route"] == "support-chat" && labels["model"] == "gpt-4o-mini")
        #expect(labels["measure"] == (measure == .meanScore ? "mean_score" : nil))
    }

    @Test func emptyLabelsAreLeftOutAndFloorsCarryTheirRule() {
        let noRoute = Self.key("check:ok", route: "")
        #expect(AlertCatalog.regressionLabels(noRoute)["route"] == nil)
        let floor = AlertCatalog.floorLabels(Self.key("check:ok"))
        #expect(floor["rule"] == "min_pass_rate" && floor["alertname"] == "QualityRegression" && floor["severity"] == "critical")
        #expect(AlertFingerprint.of(floor) != AlertFingerprint.of(AlertCatalog.regressionLabels(Self.key("check:ok"))))
    }

    @Test func driftLabelsNameBothVersionsAndAJudgeByName() {
        let labels = AlertCatalog.driftLabels(route: "r", model: "m", before: "v1", after: "v2", metric: "judge:helpfulness@1+abcd1234#mean")
        #expect(labels["alertname"] == "ProviderDrift" && labels["severity"] == "warning")
        #expect(labels["version_before"] == "v1" && labels["version_after"] == "v2")
        #expect(labels["metric"] == "judge:helpfulness")
        let version = AlertCatalog.versionLabels(route: "r", model: "m", before: "v1", after: "v2")
        #expect(version["alertname"] == "ProviderVersionChanged" && version["severity"] == "info" && version["metric"] == nil)
        #expect(AlertCatalog.goldenLabels(set: "support", metric: "check:ok", model: "m", endpoint: "prod")["route"] == "canary:support")
    }

    @Test(arguments: [
        (0.9, SeriesMeasure.passRate, "check:ok", "0.900"),
        (4.236, .meanScore, "judge:h", "4.24"),
        (812.4, .logValue, "op:latency_ms", "812 ms"),
        (0.0004, .logValue, "op:cost_usd", "$0.00040"),
        (Double.nan, .passRate, "check:ok", "-"),
    ])
    func numbersReadAsTheirMeasure(value: Double, measure: SeriesMeasure, metric: String, text: String) {
        #expect(AlertCatalog.value(value, measure, metric: metric) == text)
    }

    @Test func aRegressionsTextCarriesItsNumbersAndTheSwitch() {
        let numbers = RegressionNumbers(
            baseline: 0.963, baselineSamples: 242, current: 0.806, samples: 62, statistic: 6.634,
            threshold: 6.29, targetARL: 11260.4, changeStart: 1_795_867_961)
        let note = AlertCatalog.switchNote(before: "v1", after: "v2", at: 1_795_867_552)
        let text = AlertCatalog.regressionText(Self.key("check:valid-json", route: "extract-order"), numbers, switchNote: note)
        #expect(text.summary == "Pass rate of check:valid-json on extract-order/gpt-4o-mini dropped from 0.963 to 0.806")
        #expect(
            text.description.hasPrefix(
                "Pass rate of check:valid-json on extract-order/gpt-4o-mini: baseline 0.963 over 242 samples; 0.806 over the 62 samples since the estimated start (2026-11-28T"
            ))
        #expect(text.description.contains("statistic 6.63 >= threshold 6.29, set for an in-control run length of 11260 samples"))
        #expect(text.description.hasSuffix("provider version switch v1 -> v2 at 2026-11-28T12:05:52Z: likely the cause."))
        let latency = AlertCatalog.regressionText(
            Self.key("op:latency_ms", .logValue),
            RegressionNumbers(
                baseline: 800, baselineSamples: 1000, current: 1200, samples: 40, statistic: 9, threshold: 8.5, targetARL: 1e6, changeStart: nil))
        #expect(latency.summary == "Typical latency (op:latency_ms) on support-chat/gpt-4o-mini rose from 800 ms to 1200 ms")
        let floor = AlertCatalog.floorText(Self.key("check:ok"), FloorNumbers(minPassRate: 0.99, current: 0.95, samples: 891, upperBound: 0.967))
        #expect(floor.summary == "Pass rate of check:ok on support-chat/gpt-4o-mini is under its floor: 0.950 < min_pass_rate 0.990")
        #expect(floor.description == "pass rate 0.950 over the last 891 samples, 99.7% upper bound 0.967, under the configured min_pass_rate 0.990.")
    }
}

@Suite struct HealthAlertsTests {
    @Test func judgeFailingSaysWhyFromTheCircuitOrTheErrorRate() {
        let circuit = HealthAlerts.judgeFailing(
            judge: "helpfulness", identity: "helpfulness@1+aaaa0000", endpoint: "default", judged: 3, errors: 3, windowMinutes: 15,
            threshold: 0.5, minVerdicts: 10, circuitReason: "circuit open: endpoint default failed repeatedly")
        #expect(circuit.name == "JudgeFailing" && circuit.severity == .warning)
        #expect(circuit.labels == ["metric": "judge:helpfulness", "endpoint": "default"])
        #expect(circuit.summary == "Judge helpfulness is failing (transport errors: traces wait in the queue): endpoint default is unreachable or failing")
        #expect(circuit.numbers["circuit_open"] == 1 && circuit.description.contains("; circuit open: endpoint default failed repeatedly."))
        let errors = HealthAlerts.judgeFailing(
            judge: "tone", identity: "tone@1+bbbb0000", endpoint: nil, judged: 20, errors: 15, windowMinutes: 15, threshold: 0.5,
            minVerdicts: 10, circuitReason: nil)
        #expect(errors.summary == "Judge tone is failing (reply errors: those verdicts are final): 75% of its last 20 verdicts are judge errors")
        #expect(errors.numbers["error_rate"] == 0.75 && errors.numbers["circuit_open"] == 0)
        #expect(
            errors.description.hasPrefix(
                "judge tone@1+bbbb0000 on endpoint -: 15 judge errors in 20 verdicts over the last 15 min (threshold 50% of at least 10)"))
    }

    @Test func budgetAndSpoolDrafts() {
        let budget = HealthAlerts.budgetExhausted(endpoint: "default", used: 2_000_104, budget: 2_000_000)
        #expect(budget.labels == ["endpoint": "default"] && budget.numbers["tokens_used"] == 2_000_104)
        #expect(budget.description.hasPrefix("endpoint default used 2000104 tokens today (daily_token_budget 2000000)"))
        let stalled = HealthAlerts.spoolStalled(directory: "/var/spool/evald", pendingBytes: 5000, stalledFor: 660, failingFor: 0, threshold: 600)
        #expect(stalled.severity == .critical && stalled.labels == ["spool_dir": "/var/spool/evald"])
        #expect(stalled.summary == "evald has read no spool line for 660 s while 5000 bytes wait")
        #expect(!stalled.description.contains("polls failing"))
        let failing = HealthAlerts.spoolStalled(directory: "/s", pendingBytes: 0, stalledFor: 700, failingFor: 650, threshold: 600)
        #expect(failing.description.contains(", polls failing for 650 s"))
    }
}
