import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Canary replay through the daemon: the golden set's conversations go to the
/// production endpoint (a stub on 127.0.0.1), the fresh answers are scored against the
/// set's baseline, and a degraded provider ends in a GoldenRegression at a webhook.
@Suite(.serialized) struct CanaryIntegrationTests {
    @Test func degradedAnswersFireGoldenRegressionAndTheNewVersionIsSeenByTheDriftWatch() async throws {
        try await onTestThreads {
            let degraded = LockedFlag()
            let target = try await StubJudgeServer.start { prompt in
                degraded.isSet ? "Sorry, I cannot help with that." : "Your order \(prompt.split(separator: " ").last ?? "") ships tomorrow."
            }
            defer { Task { try? await target.stop() } }
            target.responseModel = "gpt-4o-mini-2024-07-18"
            let hook = try await StubHTTPServer.start { _ in .respond(status: 200, body: []) }
            defer { Task { try? await hook.stop() } }
            let h = try EvaldHarness(
                config: """
                    checks:
                      "*":
                        - {name: polite, kind: not_contains, values: ["sorry"], ignore_case: true}
                    endpoints:
                      production: {kind: openai, base_url: "\(target.baseURL)/v1", model: gpt-4o-mini, timeout: 10s}
                    golden:
                      canary: {set: support, endpoint: production, every: 2s}
                    alerts:
                      max_backoff: 500ms
                      receivers:
                        - {name: hook, kind: webhook, url: "\(hook.baseURL)/hook"}
                    """)
            let dir = h.root + "/golden/support"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let cases =
                (1...20).map { n in
                    #"{"id":"c\#(n)","trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"2026-11-28T10:00:00Z","route":"support-chat","model":"gpt-4o-mini","input":[{"role":"system","content":"You are a support assistant."},{"role":"user","content":"Where is order A-\#(n)?"}],"output":"Your order A-\#(n) ships tomorrow.","label":{"pass":true}}"#
                }.joined(separator: "\n") + "\n"
            try cases.write(toFile: dir + "/cases.jsonl", atomically: true, encoding: .utf8)
            #expect(try h.run(["golden", "lock", "support"]).code == 0)
            #expect(try h.run(["gate", "support", "--write-baseline"]).code == 0)

            let daemon = try h.startDaemon()
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            // The first run answers well: recorded, nothing fires.
            #expect(
                try h.waitUntil(timeout: 60) { try h.store().canaryRuns(set: "support").count >= 1 },
                "\((try? String(contentsOfFile: h.root + "/daemon.log", encoding: .utf8)) ?? "")")
            let first = try #require(try h.store().canaryRuns(set: "support").last)
            #expect(first.answered == 20 && first.regressed.isEmpty && first.error == nil)
            #expect(first.versions == ["gpt-4o-mini-2024-07-18/fp_stub0001": 20])
            // The system message went to the target with the user turn.
            let body = try #require(target.requests.last.flatMap { (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any] })
            #expect((body["messages"] as? [[String: Any]])?.map { $0["role"] as? String } == ["system", "user"])

            // The provider silently updates the model behind the name, and its answers degrade.
            target.responseModel = "gpt-4o-mini-2025-05-01"
            degraded.set()
            #expect(
                try h.waitUntil(timeout: 60) {
                    notifications(hook).contains { ($0["labels"] as? [String: String])?["alertname"] == "GoldenRegression" }
                })
            let alert = try #require(notifications(hook).first { ($0["labels"] as? [String: String])?["alertname"] == "GoldenRegression" })
            let labels = try #require(alert["labels"] as? [String: String])
            #expect(labels["golden_set"] == "support" && labels["model"] == "gpt-4o-mini" && labels["endpoint"] == "production")
            #expect(labels["metric"] == "check:polite" && labels["route"] == "canary:support")
            let description = (alert["annotations"] as? [String: String])?["description"] ?? ""
            #expect(description.contains("1.000 (baseline, n=20) -> 0.000 (n=20)"), "\(description)")
            #expect(description.contains("gpt-4o-mini-2025-05-01"))
            // It took two regressed runs in a row (hysteresis against a single unlucky run).
            let runs = try h.store().canaryRuns(set: "support", limit: 100)
            #expect(runs.filter { $0.regressed.contains("check:polite") }.count >= 2)

            // The version change was seen without any production traffic.
            let drift = try h.run(["drift", "--json"])
            let watch = try #require((drift.json["watches"] as? [[String: Any]])?.first { $0["route"] as? String == "canary:support" })
            #expect(watch["current_version"] as? String == "gpt-4o-mini-2025-05-01/fp_stub0001")
            #expect((watch["switches"] as? [[String: Any]])?.isEmpty == false)

            // The provider fixes it: two clean runs resolve the alert.
            degraded.clear()
            #expect(
                try h.waitUntil(timeout: 60) {
                    notifications(hook).contains {
                        ($0["labels"] as? [String: String])?["alertname"] == "GoldenRegression" && $0["status"] as? String == "resolved"
                    }
                })
            let fired = try h.store().alerts(includeResolved: true).filter { $0.name == "GoldenRegression" }
            #expect(fired.count == 1, "one episode, no flapping")
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
        }
    }

    func notifications(_ hook: StubHTTPServer) -> [[String: Any]] {
        hook.requests.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any] }
            .flatMap { ($0["alerts"] as? [[String: Any]]) ?? [] }
    }
}
