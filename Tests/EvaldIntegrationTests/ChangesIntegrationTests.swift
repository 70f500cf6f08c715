import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The team's own changes through the real binary: a prompt deploy that degrades a check, its
/// rollback, an equal deploy, and variants that alternate.
@Suite(.serialized) struct ChangesIntegrationTests {
    static let old = "support-v7"
    static let new = "support-v8"

    /// One record every 10 s of trace time; `apologises` decides the `polite` check's verdict.
    static func record(_ n: Int, prompt: String, model: String = "gpt-4o-mini", apologises: Bool) -> String {
        let ts = RFC3339.format(Date(timeIntervalSince1970: 1_795_824_000 + Double(n) * 10), fractional: false)
        let output = apologises ? "Sorry, I cannot look that up right now." : "Your order A-\(n) ships tomorrow."
        return
            #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"\#(ts)","route":"support-chat","model":"\#(model)","prompt_version":"\#(prompt)","input":[{"role":"user","content":"Where is order A-\#(n)?"}],"output":"\#(output)","latency_ms":\#(700 + n % 300),"cost_usd":0.0004}"#
            + "\n"
    }

    static func config(hook: StubHTTPServer) -> String {
        """
        checks:
          "*":
            - {name: polite, kind: not_contains, values: ["sorry"], ignore_case: true}
        alerts:
          max_backoff: 500ms
          receivers:
            - {name: hook, kind: webhook, url: "\(hook.baseURL)/hook"}
        """
    }

    func notifications(_ hook: StubHTTPServer) -> [[String: Any]] {
        hook.requests.compactMap { request in
            (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any]
        }.flatMap { ($0["alerts"] as? [[String: Any]]) ?? [] }
    }

    func labels(_ alert: [String: Any]) -> [String: String] { alert["labels"] as? [String: String] ?? [:] }

    @Test func aDeployThatHalvesACheckFiresPromptRegressionToTheWebhookAndARollbackResolvesIt() async throws {
        try await onTestThreads {
            let hook = try await StubHTTPServer.start { _ in .respond(status: 200, body: []) }
            defer { Task { try? await hook.stop() } }
            let h = try EvaldHarness(config: Self.config(hook: hook))
            var text = ""
            for n in 0..<1_200 { text += Self.record(n, prompt: Self.old, apologises: n % 10 == 0) }
            // The new prompt apologises half the time.
            for n in 1_200..<1_600 { text += Self.record(n, prompt: Self.new, apologises: n % 2 == 0) }
            try h.append("traces.jsonl", text)
            let run = try h.run(["run", "--once"])
            #expect(run.code == 0, "\(run.stderr)")

            let received = notifications(hook)
            let changed = try #require(received.first { labels($0)["alertname"] == "PromptVersionChanged" })
            #expect(labels(changed)["prompt_version"] == Self.new && labels(changed)["previous_prompt_version"] == Self.old)
            #expect(labels(changed)["severity"] == "info")
            let regression = try #require(received.first { labels($0)["alertname"] == "PromptRegression" })
            let l = labels(regression)
            #expect(l["severity"] == "critical" && l["route"] == "support-chat" && l["model"] == "gpt-4o-mini")
            #expect(l["metric"] == "check:polite" && l["prompt_version"] == Self.new && l["previous_prompt_version"] == Self.old)
            let description = (regression["annotations"] as? [String: String])?["description"] ?? ""
            #expect(description.contains("0.900") && description.contains("1200 samples") && description.contains(Self.old) && description.contains(Self.new))
            #expect(description.contains("Mixture SPRT"))
            #expect(!received.contains { labels($0)["alertname"] == "ModelChanged" || labels($0)["alertname"] == "VariantWorse" })

            // The QualityRegression the drop also fires names the deploy.
            let alerts = try h.run(["alerts", "--json"])
            let quality = try #require(
                (alerts.json["alerts"] as? [[String: Any]])?.first {
                    $0["alertname"] as? String == "QualityRegression" && labels($0)["metric"] == "check:polite"
                })
            #expect((quality["annotations"] as? [String: String])?["prompt_deploy"] == "\(Self.old) -> \(Self.new)")
            #expect(try h.run(["status"]).stdout.contains("likely cause: the prompt version change \(Self.old) -> \(Self.new)"))

            // Rollback: the old prompt takes the traffic back.
            try h.append("traces.jsonl", (1_600..<1_700).map { Self.record($0, prompt: Self.old, apologises: $0 % 10 == 0) }.joined())
            #expect(try h.run(["run", "--once"]).code == 0)
            let all = try h.run(["alerts", "--all", "--json"]).json["alerts"] as? [[String: Any]] ?? []
            let stored = try #require(all.first { $0["alertname"] as? String == "PromptRegression" })
            #expect(stored["state"] as? String == "resolved")
            #expect(all.filter { $0["alertname"] as? String == "PromptVersionChanged" }.count == 1, "a rollback is no new change")
            #expect(
                notifications(hook).contains {
                    labels($0)["alertname"] == "PromptRegression" && $0["status"] as? String == "resolved"
                })

            // The lineage: both versions, the new one started by the deploy and rolled back.
            let versions = try h.run(["versions", "--route", "support-chat", "--json"])
            #expect(versions.code == 0)
            let combinations = ((versions.json["routes"] as? [[String: Any]])?.first?["combinations"] as? [[String: Any]]) ?? []
            #expect(combinations.compactMap { $0["prompt_version"] as? String } == [Self.old, Self.new])
            let deployed = try #require(combinations.last?["started_by"] as? [String: Any])
            #expect(deployed["change"] as? String == "deploy" && deployed["from"] as? String == Self.old && deployed["rolled_back"] as? Bool == true)
            #expect(combinations.first?["started_by"] is NSNull)
            #expect(abs(((combinations.last?["pass_rates"] as? [String: Double])?["check:polite"] ?? 0) - 0.5) < 0.001)
            // explain on the regression shows that lineage too.
            let explain = try h.run(["explain", try #require(stored["id"] as? String), "--json"])
            #expect(((explain.json["lineage"] as? [[String: Any]]) ?? []).count == 2, "\(explain.stdout)")
            #expect(
                try h.run(["explain", try #require(stored["id"] as? String)]).stdout.contains("started by deploy \(Self.old) -> \(Self.new) (rolled back)"))
        }
    }

    @Test func anEqualDeployFiresOnlyPromptVersionChangedAndEndsNoDrift() async throws {
        try await onTestThreads {
            let hook = try await StubHTTPServer.start { _ in .respond(status: 200, body: []) }
            defer { Task { try? await hook.stop() } }
            let h = try EvaldHarness(config: Self.config(hook: hook))
            var text = ""
            // 2% failures: the before/after tests rule out a min_drop drop within the new version's
            // first 2,000 answers (at 10% the two tests of the route need more, and end inconclusive).
            for n in 0..<1_000 { text += Self.record(n, prompt: Self.old, apologises: n % 50 == 0) }
            for n in 1_000..<3_000 { text += Self.record(n, prompt: Self.new, apologises: n % 50 == 0) }
            try h.append("traces.jsonl", text)
            #expect(try h.run(["run", "--once"]).code == 0)
            let all = try h.run(["alerts", "--all", "--json"]).json["alerts"] as? [[String: Any]] ?? []
            #expect(all.compactMap { $0["alertname"] as? String } == ["PromptVersionChanged"])
            #expect(all.first?["state"] as? String == "resolved")
            let explain = try h.run(["explain", try #require(all.first?["id"] as? String), "--json"])
            let transitions = explain.json["transitions"] as? [[String: Any]] ?? []
            #expect((transitions.last?["numbers"] as? [String: Double])?["state_no_drift"] == 1, "the watch ended no_drift: \(explain.stdout)")
        }
    }

    @Test func steadilyAlternatingModelsAndPromptVersionsAreVariantsNotChanges() async throws {
        try await onTestThreads {
            let hook = try await StubHTTPServer.start { _ in .respond(status: 200, body: []) }
            defer { Task { try? await hook.stop() } }
            let h = try EvaldHarness(config: Self.config(hook: hook))
            var text = ""
            for n in 0..<3_000 {
                // A router: two models and two prompt versions, interleaved from the start.
                text += Self.record(
                    n, prompt: n % 3 == 0 ? Self.new : Self.old, model: n % 2 == 0 ? "gpt-4o-mini" : "claude-haiku",
                    apologises: n % 10 == 0)
            }
            try h.append("traces.jsonl", text)
            #expect(try h.run(["run", "--once"]).code == 0)
            let all = try h.run(["alerts", "--all", "--json"]).json["alerts"] as? [[String: Any]] ?? []
            #expect(all.isEmpty, "\(all.compactMap { $0["alertname"] })")
            #expect(notifications(hook).isEmpty)
        }
    }

    @Test func aTenPercentSliceWhoseJudgeMeanIsLowerFiresVariantWorseAndCompareShowsIt() async throws {
        try await onTestThreads {
            // The judge scores by the answer: the incumbent's average 4.33, the slice's 3.9.
            let stub = try await StubJudgeServer.start { prompt in
                let n = Int(prompt.split(separator: "A-").last?.prefix { $0.isNumber } ?? "0") ?? 0
                // The slice is every tenth trace: its scores cycle on n / 10.
                let score = prompt.contains("(v8)") ? [5, 4, 4, 4, 4, 4, 4, 4, 3, 3][(n / 10) % 10] : [5, 5, 5, 4, 4, 4, 4, 4, 4, 4][n % 10]
                return #"{"score": \#(score), "reason": "graded"}"#
            }
            defer { Task { try? await stub.stop() } }
            let hook = try await StubHTTPServer.start { _ in .respond(status: 200, body: []) }
            defer { Task { try? await hook.stop() } }
            let h = try EvaldHarness(
                config: Self.config(hook: hook) + """

                    endpoints:
                      default: {kind: openai, base_url: "\(stub.baseURL)/v1", model: judge-model, api_key_env: EVALD_TEST_JUDGE_KEY, timeout: 10s}
                    judge:
                      dir: judges
                    """)
            try h.writeJudge()
            let env = ["EVALD_TEST_JUDGE_KEY": "sk-test-judge"]
            func record(_ n: Int, slice: Bool) -> String {
                Self.record(n, prompt: slice ? Self.new : Self.old, apologises: n % 10 == 0)
                    .replacingOccurrences(of: "ships tomorrow.", with: slice ? "ships tomorrow. (v8)" : "ships tomorrow.")
            }
            // The incumbent alone, judged and fed; then a 10% slice beside it.
            try h.append("traces.jsonl", (0..<300).map { record($0, slice: false) }.joined())
            #expect(try h.run(["run", "--once"], environment: env).code == 0)
            try h.append("traces.jsonl", (300..<1_500).map { record($0, slice: $0 % 10 == 3) }.joined())
            let run = try h.run(["run", "--once"], environment: env)
            #expect(run.code == 0, "\(run.stdout)\n\(run.stderr)")

            let received = notifications(hook)
            let worse = try #require(received.first { labels($0)["alertname"] == "VariantWorse" }, "\(received.map(labels))")
            let l = labels(worse)
            #expect(l["route"] == "support-chat" && l["metric"] == "judge:helpfulness" && l["measure"] == "mean_score")
            #expect(l["variant"] == Self.new && l["incumbent"] == Self.old && l["by"] == "prompt_version" && l["severity"] == "warning")
            #expect(!received.contains { labels($0)["alertname"] == "PromptRegression" }, "a slice is compared, not paged")

            let compare = try h.run(["compare", "--route", "support-chat", "--by", "prompt_version", "--since", "2026-11-01T00:00:00Z", "--json"])
            #expect(compare.code == 1, "a variant is worse: \(compare.stdout)")
            #expect(compare.json["incumbent"] as? String == Self.old && compare.json["by"] as? String == "prompt_version")
            let rows = compare.json["metrics"] as? [[String: Any]] ?? []
            let mean = try #require(rows.first { $0["metric"] as? String == "judge:helpfulness" && $0["measure"] as? String == "mean_score" })
            #expect(mean["verdict"] as? String == "worse" && mean["variant"] as? String == Self.new)
            let difference = mean["difference"] as? Double ?? 0
            #expect(abs(difference + 0.43) < 0.05)
            #expect((mean["ci_high"] as? Double ?? 0) < 0 && (mean["ci_low"] as? Double ?? 0) < difference)
            let arms = mean["variants"] as? [[String: Any]] ?? []
            #expect(arms.map { $0["variant"] as? String } == [Self.old, Self.new])
            let polite = try #require(rows.first { $0["metric"] as? String == "check:polite" })
            #expect(polite["verdict"] as? String != "worse")
            let text = try h.run(["compare", "--route", "support-chat", "--since", "2026-11-01T00:00:00Z"])
            #expect(text.code == 1 && text.stdout.contains("worse") && text.stdout.contains("judge:helpfulness (mean score)"))
        }
    }

    @Test func killMinus9WhileWatchingADeployCountsEveryAnswerOnceAndFiresOnce() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(
                config: """
                    checks:
                      "*":
                        - {name: polite, kind: not_contains, values: ["sorry"], ignore_case: true}
                    """)
            let total = 6_000
            let lines = (0..<total).map { n in
                n < 3_000 ? Self.record(n, prompt: Self.old, apologises: n % 10 == 0) : Self.record(n, prompt: Self.new, apologises: n % 10 < 4)
            }
            var rng = SplitMix64(state: 16)
            for round in 0..<4 {
                // A quarter at a time; killed at a random moment once detection has committed some.
                try h.append("traces.jsonl", lines[(round * 1_250)..<((round + 1) * 1_250)].joined())
                let daemon = try h.startDaemon(logName: "daemon-\(round).log")
                let before = Int(try h.store().detectionStates(kind: "cursor")["evaluation"] ?? "0") ?? 0
                #expect(try h.waitUntil(timeout: 60) { Int(try h.store().detectionStates(kind: "cursor")["evaluation"] ?? "0") ?? 0 > before })
                usleep(useconds_t(rng.next() % 1_500_000))
                kill(daemon.processIdentifier, SIGKILL)
                daemon.waitUntilExit()
            }
            try h.append("traces.jsonl", lines[5_000...].joined())
            #expect(try h.run(["run", "--once"]).code == 0)
            let store = try h.store()
            let json = try #require(try store.detectionStates(kind: DetectionStateCodec.changesKind)["prompt_version|support-chat"])
            let watch = try DetectionStateCodec.decoder().decode(ChangeWatch.self, from: Data(json.utf8))
            #expect(watch.watch.answers == total, "every answer fed to the change watch exactly once")
            #expect(watch.changes.count == 1 && watch.changes.first?.kind == .deploy)
            let fired = try store.alerts(includeResolved: true)
            #expect(fired.filter { $0.name == "PromptVersionChanged" }.count == 1)
            #expect(fired.filter { $0.name == "PromptRegression" }.count == 1)
        }
    }
}
