import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The judge is a change too: a judge endpoint that switches its model and starts scoring one
/// point lower fires JudgeDrift, and no QualityRegression.
@Suite(.serialized) struct JudgeDriftIntegrationTests {
    /// Whether the stub judge answers as its new version (one point lower).
    final class Switched: Sendable {
        let value = Mutex(false)
        var isOn: Bool { value.withLock { $0 } }
        func turnOn() { value.withLock { $0 = true } }
    }

    static func record(_ n: Int) -> String {
        let ts = RFC3339.format(Date(timeIntervalSince1970: 1_795_824_000 + Double(n) * 10), fractional: false)
        return
            #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"\#(ts)","route":"support-chat","model":"gpt-4o-mini","prompt_version":"support-v7","input":[{"role":"user","content":"Where is order A-\#(n)?"}],"output":"Your order A-\#(n) ships tomorrow.","latency_ms":800}"#
            + "\n"
    }

    /// A harness with the stub judge as its endpoint, a 1-5 helpfulness rubric and a webhook.
    static func harness(stub: StubJudgeServer, hook: StubHTTPServer) throws -> EvaldHarness {
        let h = try EvaldHarness(
            config: """
                endpoints:
                  default: {kind: openai, base_url: "\(stub.baseURL)/v1", model: judge-model, api_key_env: EVALD_TEST_JUDGE_KEY, timeout: 10s}
                judge:
                  dir: judges
                  recheck_sample: 120
                detection:
                  baseline_min_samples: 200
                alerts:
                  max_backoff: 500ms
                  receivers:
                    - {name: hook, kind: webhook, url: "\(hook.baseURL)/hook"}
                """)
        try h.writeJudge()
        return h
    }

    /// The stub judge: one point lower once `switched` is on.
    static func stub(_ switched: Switched) async throws -> StubJudgeServer {
        let stub = try await StubJudgeServer.start { prompt in
            let n = Int(prompt.split(separator: "A-").last?.prefix { $0.isNumber } ?? "0") ?? 0
            let score = [5, 5, 4, 4, 4, 5, 4, 4, 5, 4][n % 10] - (switched.isOn ? 1 : 0)
            return #"{"score": \#(score), "reason": "graded"}"#
        }
        stub.responseModel = "judge-model-2024-08-06"
        return stub
    }

    static let env = ["EVALD_TEST_JUDGE_KEY": "sk-test-judge"]

    @Test func aJudgeThatSwitchesItsModelAndScoresOnePointLowerFiresJudgeDriftAndNoQualityRegression() async throws {
        try await onTestThreads {
            let switched = Switched()
            let stub = try await Self.stub(switched)
            defer { Task { try? await stub.stop() } }
            let hook = try await StubHTTPServer.start { _ in .respond(status: 200, body: []) }
            defer { Task { try? await hook.stop() } }
            let h = try Self.harness(stub: stub, hook: hook)
            let env = Self.env

            // The judge's first version grades the first 500 traces: a baseline of every series.
            try h.append("traces.jsonl", (0..<500).map(Self.record).joined())
            #expect(try h.run(["run", "--once"], environment: env).code == 0)
            // Counted in the store: a call retried after a timeout (a loaded machine) is one verdict.
            #expect(try h.store().counters()["judged"] == 500)

            // The provider updates the model behind the judge's name: one point lower from now on.
            switched.turnOn()
            stub.responseModel = "judge-model-2024-11-20"
            try h.append("traces.jsonl", (500..<1_000).map(Self.record).joined())
            let run = try h.run(["run", "--once"], environment: env)
            #expect(run.code == 0, "\(run.stdout)\n\(run.stderr)")
            // The 500 new traces, and 120 stored traces judged again by the new version.
            #expect(try h.store().counters()["judged"] == 1_000)
            #expect(try h.store().counters()["judge_rechecked"] == 120)

            let alerts = try h.run(["alerts", "--all", "--json"]).json["alerts"] as? [[String: Any]] ?? []
            let names = alerts.compactMap { $0["alertname"] as? String }
            #expect(!names.contains("QualityRegression"), "the judge changed, not the application: \(names)")
            let drift = try #require(alerts.first { $0["alertname"] as? String == "JudgeDrift" }, "\(names)")
            let labels = drift["labels"] as? [String: String] ?? [:]
            #expect(labels["judge"] == "helpfulness" && labels["severity"] == "warning")
            #expect(labels["version_before"] == "judge-model-2024-08-06/fp_stub0001")
            #expect(labels["version_after"] == "judge-model-2024-11-20/fp_stub0001")
            let summary = (drift["annotations"] as? [String: String])?["summary"] ?? ""
            #expect(summary.contains("mean score 4.40 -> 3.40"), "\(summary)")

            // Delivered to the webhook.
            let delivered = hook.requests.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any] }
                .flatMap { ($0["alerts"] as? [[String: Any]]) ?? [] }
            #expect(delivered.contains { ($0["labels"] as? [String: String])?["alertname"] == "JudgeDrift" })

            // The alert carries the agreement numbers.
            let numbers = drift["numbers"] as? [String: Double] ?? [:]
            #expect(numbers["pairs"] == 120)
            #expect(abs((numbers["agreement"] ?? 0) - 0.4) < 0.001, "\(numbers)")

            // `evald versions` lists both judge versions.
            let judges = try h.run(["versions", "--json"]).json["judges"] as? [[String: Any]] ?? []
            let versions = Set(judges.filter { $0["judge"] as? String == "helpfulness" }.compactMap { $0["version"] as? String })
            #expect(versions == ["judge-model-2024-08-06/fp_stub0001", "judge-model-2024-11-20/fp_stub0001"], "\(judges)")
        }
    }
}

extension JudgeDriftIntegrationTests {
    @Test func killMinus9WhileRecheckingStoresEachRecheckOnceAndFiresJudgeDriftOnce() async throws {
        try await onTestThreads {
            let switched = Switched()
            let stub = try await Self.stub(switched)
            defer { Task { try? await stub.stop() } }
            let hook = try await StubHTTPServer.start { _ in .respond(status: 200, body: []) }
            defer { Task { try? await hook.stop() } }
            let h = try Self.harness(stub: stub, hook: hook)
            try h.append("traces.jsonl", (0..<500).map(Self.record).joined())
            #expect(try h.run(["run", "--once"], environment: Self.env).code == 0)

            switched.turnOn()
            stub.responseModel = "judge-model-2024-11-20"
            try h.append("traces.jsonl", (500..<1_000).map(Self.record).joined())
            // The daemon judges the new traces, then the rechecks; killed once some are stored.
            let daemon = try h.startDaemon(logName: "daemon-kill.log", environment: Self.env)
            #expect(try h.waitUntil(timeout: 120) { (try h.store().counters()["judge_rechecked"] ?? 0) > 0 })
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
            let storedBeforeKill = try h.store().counters()["judge_rechecked"] ?? 0

            let run = try h.run(["run", "--once"], environment: Self.env)
            #expect(run.code == 0, "\(run.stdout)\n\(run.stderr)")
            #expect(try h.store().counters()["judge_rechecked"] == 120, "each recheck stored once (\(storedBeforeKill) before the kill)")
            let alerts = try h.run(["alerts", "--all", "--json"]).json["alerts"] as? [[String: Any]] ?? []
            #expect(alerts.filter { $0["alertname"] as? String == "JudgeDrift" }.count == 1, "\(alerts.compactMap { $0["alertname"] })")
            #expect(!alerts.contains { $0["alertname"] as? String == "QualityRegression" })
            #expect(try h.store().counters()["judged"] == 1_000)
        }
    }
}
