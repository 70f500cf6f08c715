import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

/// Latency and cost are metrics of a change too: a deploy or a model swap that makes calls
/// slower or dearer fires PromptRegression / ModelRegression on `op:latency_ms` / `op:cost_usd`.
@Suite(.serialized) struct ChangeCostLatencyIntegrationTests {
    static func record(_ n: Int, prompt: String, model: String = "gpt-4o-mini", latency: Double, cost: Double) -> String {
        let ts = RFC3339.format(Date(timeIntervalSince1970: 1_795_824_000 + Double(n) * 10), fractional: false)
        return
            #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"\#(ts)","route":"support-chat","model":"\#(model)","prompt_version":"\#(prompt)","input":"Where is order A-\#(n)?","output":"Your order A-\#(n) ships tomorrow.","latency_ms":\#(latency),"cost_usd":\#(cost)}"#
            + "\n"
    }

    static let checks = """
        checks:
          "*":
            - {name: ok, kind: status_ok}
        """

    func alerts(_ h: EvaldHarness) throws -> [[String: Any]] {
        try h.run(["alerts", "--all", "--json"]).json["alerts"] as? [[String: Any]] ?? []
    }

    func labels(_ alert: [String: Any]) -> [String: String] { alert["labels"] as? [String: String] ?? [:] }

    @Test func aDeployThatDoublesLatencyFiresPromptRegressionOnLatencyAndNotOnCost() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(config: Self.checks)
            var text = ""
            for n in 0..<1_200 { text += Self.record(n, prompt: "support-v7", latency: 700 + Double(n % 300), cost: 0.0004) }
            for n in 1_200..<1_600 { text += Self.record(n, prompt: "support-v8", latency: 1_400 + Double(n % 600), cost: 0.0004) }
            try h.append("traces.jsonl", text)
            let run = try h.run(["run", "--once"])
            #expect(run.code == 0, "\(run.stderr)")
            let all = try alerts(h)
            let regression = try #require(
                all.first { $0["alertname"] as? String == "PromptRegression" && labels($0)["metric"] == "op:latency_ms" },
                "\(all.map(labels))")
            let l = labels(regression)
            #expect(l["prompt_version"] == "support-v8" && l["previous_prompt_version"] == "support-v7" && l["model"] == "gpt-4o-mini")
            #expect(l["measure"] == nil)
            let summary = (regression["annotations"] as? [String: String])?["summary"] ?? ""
            #expect(summary.contains("Typical latency (op:latency_ms)") && summary.contains("rose"), "\(summary)")
            let numbers = regression["numbers"] as? [String: Double] ?? [:]
            #expect((numbers["value_after"] ?? 0) / (numbers["value_before"] ?? 1) > 1.4, "\(numbers)")
            #expect(!all.contains { labels($0)["metric"] == "op:cost_usd" }, "the cost did not change")
            #expect(!all.contains { labels($0)["metric"] == "check:ok" })
        }
    }

    @Test func aModelSwapThatDoublesTheCostFiresModelRegressionOnCost() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(config: Self.checks)
            var text = ""
            for n in 0..<1_200 {
                text += Self.record(n, prompt: "support-v7", model: "gpt-4o-mini", latency: 800, cost: 0.0004 + Double(n % 7) * 0.00001)
            }
            for n in 1_200..<1_600 {
                text += Self.record(n, prompt: "support-v7", model: "gpt-4o", latency: 800, cost: 0.0009 + Double(n % 7) * 0.00001)
            }
            try h.append("traces.jsonl", text)
            #expect(try h.run(["run", "--once"]).code == 0)
            let all = try alerts(h)
            #expect(all.contains { $0["alertname"] as? String == "ModelChanged" })
            let regression = try #require(
                all.first { $0["alertname"] as? String == "ModelRegression" && labels($0)["metric"] == "op:cost_usd" }, "\(all.map(labels))")
            #expect(labels(regression)["model"] == "gpt-4o" && labels(regression)["previous_model"] == "gpt-4o-mini")
            let summary = (regression["annotations"] as? [String: String])?["summary"] ?? ""
            #expect(summary.contains("Typical cost per call (op:cost_usd)") && summary.contains("$0.0004"), "\(summary)")
            #expect(!all.contains { labels($0)["metric"] == "op:latency_ms" && $0["alertname"] as? String == "ModelRegression" })
        }
    }
}
