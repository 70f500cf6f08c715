import EvaldCore
import Foundation
import Testing

@Suite struct QualityMetricsTests {
    static func result(_ name: String, _ passed: Bool) -> CheckResult {
        CheckResult(name: name, kind: "status_ok", passed: passed, detail: passed ? "" : "failed")
    }

    /// The samples of the exposition by their series (name and labels).
    static func samples(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            out[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        return out
    }

    @Test func checkTallyCountsPerCheckRouteAndModelWhateverTheOrderOfTheChecks() {
        var tally = CheckTally()
        tally.add(route: "support", model: "m", results: [Self.result("a", true), Self.result("b", false)])
        tally.add(route: "support", model: "m", results: [Self.result("b", true), Self.result("a", true)])
        tally.add(route: nil, model: "m", results: [Self.result("a", false)])
        var other = CheckTally()
        other.add(route: "support", model: "m", results: [Self.result("c", false)])
        tally.merge(other)
        let series = tally.series.map { "\($0.labels.name)|\($0.labels.route)|\($0.labels.model) \($0.pass)/\($0.fail)" }
        #expect(series == ["a||m 0/1", "a|support|m 2/0", "b|support|m 1/1", "c|support|m 0/1"])
    }

    @Test func exportsCountersAndSummaryWithEscapedLabels() {
        var quality = QualityMetrics(limit: 100)
        var tally = CheckTally()
        tally.add(route: "r\"1", model: "m\\x", results: [Self.result("ok", true)])
        tally.add(route: "r\"1", model: "m\\x", results: [Self.result("ok", false)])
        tally.add(route: "r\"1", model: "m\\x", results: [Self.result("ok", true)])
        quality.add(tally)
        quality.addVerdict(judge: "helpfulness", route: "support", model: "m", score: 4, passed: true)
        quality.addVerdict(judge: "helpfulness", route: "support", model: "m", score: 2, passed: false)
        let text = quality.exposition(levels: [
            .init(labels: QualityLabels(name: "check:ok", route: "support", model: "m"), passRate: 0.75, baseline: 0.9)
        ])
        let samples = Self.samples(text)
        #expect(samples[#"evald_check_results_total{check="ok",route="r\"1",model="m\\x",result="pass"}"#] == "2")
        #expect(samples[#"evald_check_results_total{check="ok",route="r\"1",model="m\\x",result="fail"}"#] == "1")
        #expect(samples[#"evald_judge_verdicts_total{judge="helpfulness",route="support",model="m",result="pass"}"#] == "1")
        #expect(samples[#"evald_judge_verdicts_total{judge="helpfulness",route="support",model="m",result="fail"}"#] == "1")
        #expect(samples[#"evald_judge_score_sum{judge="helpfulness",route="support",model="m"}"#] == "6.0")
        #expect(samples[#"evald_judge_score_count{judge="helpfulness",route="support",model="m"}"#] == "2")
        #expect(samples[#"evald_series_pass_rate{metric="check:ok",route="support",model="m"}"#] == "0.75")
        #expect(samples[#"evald_series_baseline{metric="check:ok",route="support",model="m"}"#] == "0.9")
        for family in QualityMetrics.families {
            #expect(samples[#"evald_metrics_series_dropped_total{family="\#(family)"}"#] == "0")
        }
        #expect(text.contains("# TYPE evald_judge_score summary\n"))
    }

    @Test func theLimitKeepsAdmittedCountersAndCountsWhatItCuts() {
        // 2 series a check, 4 a judge: a limit of 5 holds two checks and one gauge sample.
        var quality = QualityMetrics(limit: 5)
        var first = CheckTally()
        first.add(route: "r", model: "m", results: [Self.result("a", true), Self.result("b", false)])
        first.add(route: "r", model: "m", results: [Self.result("a", true), Self.result("b", false)])
        quality.add(first)  // a and b admitted: 4 series
        quality.addVerdict(judge: "j", route: "r", model: "m", score: 5, passed: true)  // cut: 1
        var again = CheckTally()
        again.add(route: "r", model: "m", results: [Self.result("a", false), Self.result("c", false)])
        again.add(route: "r", model: "m", results: [Self.result("a", false), Self.result("c", true)])
        quality.add(again)  // a still counts; c cut: 2
        #expect(quality.dropped == ["evald_judge_verdicts_total": 1, "evald_check_results_total": 2])
        // One gauge sample fits in what is left (in metric order); the next level's two are cut.
        let text = quality.exposition(levels: [
            .init(labels: QualityLabels(name: "check:b", route: "r", model: "m"), passRate: 0.5, baseline: 0.4),
            .init(labels: QualityLabels(name: "check:a", route: "r", model: "m"), passRate: 1, baseline: nil),
        ])
        let samples = Self.samples(text)
        #expect(samples[#"evald_check_results_total{check="a",route="r",model="m",result="pass"}"#] == "2")
        #expect(samples[#"evald_check_results_total{check="a",route="r",model="m",result="fail"}"#] == "2")
        #expect(samples[#"evald_check_results_total{check="b",route="r",model="m",result="fail"}"#] == "2")
        #expect(!samples.keys.contains { $0.contains(#"check="c""#) || $0.contains(#"judge="j""#) || $0.contains("check:b") })
        #expect(samples[#"evald_series_pass_rate{metric="check:a",route="r",model="m"}"#] == "1.0")
        func dropped(_ family: String) -> String? { samples[#"evald_metrics_series_dropped_total{family="\#(family)"}"#] }
        #expect(dropped("evald_check_results_total") == "2" && dropped("evald_judge_verdicts_total") == "1")
        #expect(dropped("evald_series_pass_rate") == "1" && dropped("evald_series_baseline") == "1")
        #expect(samples.count == 4 + 1 + QualityMetrics.families.count)
    }

    static func call(_ route: String?, _ model: String, error: String? = nil, tokens: (Int, Int)? = nil, cost: Double? = nil) -> CallUsage {
        CallUsage(
            timestamp: 1_795_858_800, route: route, tenant: nil, model: model, errorClass: error, inputTokens: tokens?.0, outputTokens: tokens?.1,
            costUSD: cost)
    }

    @Test func usageCountersSumCommittedBatchesPerRouteAndModelWithinTheLimit() {
        var batch = UsageBatch(pricing: Pricing(rules: [Pricing.Rule(model: Glob("priced"), inputPerMTok: 1, outputPerMTok: 2)]))
        batch.add(Self.call("chat", "m", tokens: (10, 5), cost: 0.25))
        batch.add(Self.call("chat", "m", error: "timeout", tokens: (3, 0)))
        batch.add(Self.call(nil, "priced", error: "RateLimitError", tokens: (1_000_000, 500_000)))
        batch.add(Self.call("chat", "m", error: "timeout", cost: -1))
        var totals = UsageTotals()
        totals.add(batch)
        // In (route, model) order: ("", priced) takes 4 series and 1 for its error class,
        // (chat, m) the next 4; a limit of 9 leaves no room for its error class.
        var quality = QualityMetrics(limit: 9)
        quality.add(totals)
        quality.add(totals)
        let samples = Self.samples(quality.exposition(levels: []))
        let chat = #"route="chat",model="m""#
        #expect(samples["evald_usage_calls_total{\(chat)}"] == "6")
        #expect(samples[#"evald_usage_tokens_total{\#(chat),direction="input"}"#] == "26")
        #expect(samples[#"evald_usage_tokens_total{\#(chat),direction="output"}"#] == "10")
        // The negative cost lowers nothing: each poll adds max(0, 0.25 - 1).
        #expect(samples["evald_usage_cost_usd_total{\(chat)}"] == "0.0")
        #expect(!samples.keys.contains { $0.hasPrefix("evald_usage_errors_total{\(chat)") })
        let priced = #"route="",model="priced""#
        #expect(samples["evald_usage_calls_total{\(priced)}"] == "2")
        #expect(samples[#"evald_usage_errors_total{\#(priced),class="RateLimitError"}"#] == "2")
        // Priced from its tokens: 1 M input at $1 and 0.5 M output at $2, twice.
        #expect(samples["evald_usage_cost_usd_total{\(priced)}"] == "4.0")
        #expect(samples[#"evald_metrics_series_dropped_total{family="evald_usage_calls_total"}"#] == "0")
        #expect(samples[#"evald_metrics_series_dropped_total{family="evald_usage_errors_total"}"#] == "4")

        // A (route, model) that does not fit: its calls and errors are counted as cut.
        var tight = QualityMetrics(limit: 5)
        tight.add(totals)
        let cut = Self.samples(tight.exposition(levels: []))
        #expect(!cut.keys.contains { $0.contains(chat) })
        #expect(cut[#"evald_metrics_series_dropped_total{family="evald_usage_calls_total"}"#] == "3")
        #expect(cut[#"evald_metrics_series_dropped_total{family="evald_usage_errors_total"}"#] == "2")
    }

    @Test func seriesLimitIsConfigurable() throws {
        func parse(_ yaml: String) throws -> EvaldConfig {
            try EvaldConfig.parse(yaml: "state_dir: s\nspool: {dir: d}\n" + yaml, path: "/etc/evald/evald.yaml", environment: [:]).0
        }
        #expect(try parse("").http.metricsSeriesLimit == 5000)
        #expect(try parse("http: {metrics_series_limit: 20}\n").http.metricsSeriesLimit == 20)
        #expect(throws: (any Error).self) { try parse("http: {metrics_series_limit: -1}\n") }
    }
}
