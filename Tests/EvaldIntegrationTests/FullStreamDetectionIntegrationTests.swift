import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

/// The `op:` series from every call (SPEC 7): at a 1% sample, an error-rate regression and a
/// latency regression are found from the usage of every call, long before the sample alone
/// could hold a baseline.
@Suite(.serialized) struct FullStreamDetectionIntegrationTests {
    /// `minutes` minutes of `perMinute` calls ending `endingAgo` seconds ago; every `errorEvery`-th
    /// call fails, latency around `latencyMs`.
    static func calls(from first: Int, minutes: Int, perMinute: Int, endingAgo: Double, errorEvery: Int, latencyMs: Double) -> String {
        let start = Date().timeIntervalSince1970 - endingAgo - Double(minutes * 60)
        var lines = ""
        for index in 0..<(minutes * perMinute) {
            let n = first + index
            let ts = start + Double(index) * 60 / Double(perMinute)
            let failed = errorEvery > 0 && n % errorEvery == 0
            let status = failed ? #""status":"error","error":"RateLimitError: slow down""# : #""status":"ok","output":"done""#
            // A spread of latencies: a multiplicative wobble of +-30% around the level.
            let latency = latencyMs * (0.7 + 0.6 * Double((n &* 2_654_435_761) % 1000) / 1000)
            lines +=
                #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":\#(ts),"route":"support-chat","model":"gpt-4o","#
                + #""input":[{"role":"user","content":"hi"}],\#(status),"latency_ms":\#(Int(latency)),"cost_usd":0.0012}"# + "\n"
        }
        return lines
    }

    @Test func errorRateAndLatencyRegressionsAreFoundFromEveryCall() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(config: "detection: {baseline_min_samples: 3000}\n", rate: 0.01)
            // Three healthy hours: 60 calls a minute, 1 in 50 failing, about 800 ms.
            try h.append("a.jsonl", Self.calls(from: 0, minutes: 180, perMinute: 60, endingAgo: 1800, errorEvery: 50, latencyMs: 800))
            _ = try h.run(["run", "--once"])
            let store = try h.store()
            #expect(try store.firingAlertCount() == 0, "a healthy stream fires nothing")
            let sampled = try store.evaluationCount(after: 0)
            #expect(sampled < 300, "the 1% sample holds \(sampled) evaluations, far under baseline_min_samples")

            // Then 20 minutes in which one call in four fails and calls take three times as long.
            try h.append("b.jsonl", Self.calls(from: 20_000, minutes: 20, perMinute: 60, endingAgo: 300, errorEvery: 4, latencyMs: 2400))
            _ = try h.run(["run", "--once"])
            let alerts = try store.alerts(includeResolved: false)
            let errorRate = alerts.first { $0.name == "ErrorRateRegression" }
            #expect(errorRate?.labels["metric"] == "op:error_rate")
            #expect(errorRate?.labels["route"] == "support-chat")
            #expect(alerts.contains { $0.name == "LatencyRegression" && $0.labels["metric"] == "op:latency_ms" })
            #expect(!alerts.contains { $0.name == "CostSpike" }, "the cost per call did not change")
            // The journal holds only what detection has not read.
            #expect(try store.usageFeedBacklog(after: 0) == 0)
        }
    }
}
