import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// What a user met with a local llama.cpp model, replayed against the stub judge: a server
/// slower than the timeout that answers one request at a time, an endpoint that is down, replies
/// cut at max_tokens or breaking the scale, a judge that fails every call, Ctrl-C on `run --once`.
@Suite(.serialized) struct JudgeRealServerIntegrationTests {
    static let rubric = """
        ---
        name: helpfulness
        version: 1
        applies_to: ["support-*"]
        scale: {min: 1, max: 5}
        pass_at: 4
        max_output_tokens: 50
        ---
        Grade the answer.
        Question: {{last_user_message}}
        Answer: {{output}}
        Reply with JSON only: {"score": <integer 1-5>, "reason": "<one sentence>"}
        """

    static let safety = """
        ---
        name: tone-safety
        version: 1
        applies_to: ["support-*"]
        scale: pass_fail
        ---
        SAFETY REVIEW. Answer: {{output}}
        Reply with JSON only: {"pass": true|false, "reason": "<one sentence>"}
        """

    static func line(_ n: Int) -> String {
        #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"2026-11-28T10:00:00.000Z","route":"support-chat","model":"gpt-4o-mini","input":[{"role":"user","content":"Where is order \#(n)?"}],"output":"Order \#(n) shipped.","latency_ms":900}"#
            + "\n"
    }

    func harness(baseURL: String, endpoint: String = "", extra: String = "", rubrics: [String] = [Self.rubric]) throws -> EvaldHarness {
        let h = try EvaldHarness(
            config: """
                endpoints:
                  default: {kind: openai, base_url: "\(baseURL)/v1", model: judge-model\(endpoint)}
                judge:
                  dir: judges
                \(extra)
                """)
        try FileManager.default.createDirectory(atPath: h.root + "/judges", withIntermediateDirectories: true)
        for (index, rubric) in rubrics.enumerated() {
            try rubric.write(toFile: h.root + "/judges/judge\(index).md", atomically: true, encoding: .utf8)
        }
        return h
    }

    func verdictKinds(_ h: EvaldHarness) throws -> [String] {
        let store = try h.store()
        return try store.evaluations().flatMap { try store.judgeVerdicts(evaluationID: $0.id) }.map {
            switch $0.outcome {
            case .scored: "scored"
            case .failed(let kind, _, _): kind
            }
        }
    }

    func judges(_ status: [String: Any]) -> [[String: Any]] {
        ((status["judge"] as? [String: Any])?["judges"] as? [[String: Any]]) ?? []
    }

    /// A server that takes longer than the timeout for every request, one request at a time:
    /// the judge is degraded (status, log, JudgeFailing, /metrics), timeouts stop being retried
    /// and the concurrency drops to 1, so no trace is sent again and again.
    @Test func aServerSlowerThanTheTimeoutDegradesTheJudgeWithoutARetryStorm() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in #"{"score": 4, "reason": "fine"}"# }
            defer { Task { try? await stub.stop() } }
            stub.serialize = true
            stub.computeSeconds = 1.5
            let h = try harness(baseURL: stub.baseURL, endpoint: ", concurrency: 2, timeout: 1s, max_retries: 3")
            try h.writeConfig(
                (try String(contentsOfFile: h.configPath, encoding: .utf8)).replacingOccurrences(of: "listen: \"\"", with: "listen: \"127.0.0.1:0\""))
            try h.append("a.jsonl", (0..<6).map(Self.line).joined())
            let daemon = try h.startDaemon()
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }

            var degraded: [String: Any] = [:]
            #expect(
                try h.waitUntil(timeout: 60) {
                    guard let judge = judges(try h.status()).first, judge["state"] as? String == "degraded" else { return false }
                    degraded = judge
                    return true
                })
            let reason = degraded["reason"] as? String ?? ""
            #expect(reason.contains("timed out after 1s (endpoints.default.timeout)"), "\(reason)")
            #expect(reason.contains("against a timeout of 1s"), "\(reason)")
            let health = degraded["endpoint_health"] as? [String: Any]
            #expect(health?["timeout_seconds"] as? Double == 1)
            #expect((health?["median_latency_seconds"] as? Double ?? 0) >= 1)
            #expect(health?["configured_concurrency"] as? Int == 2)
            #expect(
                try h.waitUntil(timeout: 20) {
                    (judges(try h.status()).first?["endpoint_health"] as? [String: Any])?["concurrency"] as? Int == 1
                })
            let text = try h.run(["status"]).stdout
            #expect(text.contains("-> default: degraded, 6 queued (") && text.contains("calls timed out after 1s"), "\(text)")
            // No retry storm: each trace was sent at most twice (the first timeout is retried once,
            // then timeouts are known to be the server's speed), where 4 attempts each were allowed;
            // what timed out waits in the queue (15 s, then longer).
            let perPrompt = Dictionary(grouping: stub.prompts, by: { $0 }).mapValues(\.count)
            #expect(perPrompt.values.allSatisfy { $0 <= 2 }, "\(perPrompt)")

            // Said in the log, at warning level, with the numbers.
            let log = try String(contentsOfFile: h.root + "/daemon.log", encoding: .utf8)
            let line = log.split(separator: "\n").first { $0.contains("msg=judge.state") && $0.contains("judge.state=degraded") }
            #expect(line?.contains("level=warning") == true, "\(log.suffix(2000))")
            #expect(line?.contains("judge.timeouts=") == true)

            // And by JudgeFailing, as a transport failure whose traces wait.
            #expect(
                try h.waitUntil(timeout: 30) {
                    let alerts = try h.run(["alerts", "--json"]).json["alerts"] as? [[String: Any]] ?? []
                    return alerts.contains { $0["alertname"] as? String == "JudgeFailing" }
                })
            let alert = try #require(
                (try h.run(["alerts", "--json"]).json["alerts"] as? [[String: Any]])?.first { $0["alertname"] as? String == "JudgeFailing" })
            let annotations = alert["annotations"] as? [String: String] ?? [:]
            #expect(annotations["summary"]?.contains("transport errors: traces wait in the queue") == true, "\(annotations)")
            #expect(annotations["description"]?.contains("timed out") == true, "\(annotations)")

            #expect(stub.prompts.count < 6 * 4)

            // /metrics counts the timeouts by judge and kind.
            let port = log.range(of: #"http\.port=\d+"#, options: .regularExpression).map { Int(log[$0].dropFirst("http.port=".count)) ?? 0 } ?? 0
            let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
            let scrape = String(decoding: data, as: UTF8.self)
            #expect(scrape.contains(#"evald_judge_errors_total{judge="helpfulness",kind="timeout"}"#), "\(scrape.prefix(3000))")
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
        }
    }

    /// The endpoint is down: the cause is shown by run --once, status, the alert and the probe;
    /// the summary's alert count is what `evald alerts` lists.
    @Test func anUnreachableEndpointShowsTheCauseEverywhere() async throws {
        try await onTestThreads {
            let refusing = try StubJudgeServer.refusingPort()
            defer { refusing.close() }
            let port = refusing.port
            let h = try harness(baseURL: "http://127.0.0.1:\(port)", endpoint: ", timeout: 5s, max_retries: 1")
            try h.append("a.jsonl", (0..<6).map(Self.line).joined())
            let cause = "connection refused to 127.0.0.1:\(port)"

            let once = try h.run(["run", "--once", "--judge-timeout", "60s"])
            #expect(once.code == 0, "\(once.stderr)")
            #expect(once.stdout.contains(cause), "\(once.stdout)")
            #expect(once.stderr.contains("judge.last_failure=\"\(cause)\"") || once.stderr.contains("judge.last_failure=\(cause)"), "\(once.stderr)")

            let status = try h.run(["status"])
            #expect(status.stdout.contains(cause), "\(status.stdout)")
            let judge = try #require(judges(try h.status()).first)
            #expect(judge["last_failure"] as? String == cause)

            let alerts = try h.run(["alerts", "--json"]).json["alerts"] as? [[String: Any]] ?? []
            let failing = try #require(alerts.first { $0["alertname"] as? String == "JudgeFailing" })
            let annotations = failing["annotations"] as? [String: String] ?? [:]
            #expect(annotations["summary"]?.contains(cause) == true, "\(annotations)")
            #expect(once.stdout.contains("alerts: \(alerts.count) firing (evald alerts)"), "\(once.stdout)")

            let probe = try h.run(["check-config", "--probe"])
            #expect(probe.code == 1, "\(probe.stdout)\(probe.stderr)")
            #expect(probe.stdout.contains("probe: endpoint default: FAILED: \(cause)"), "\(probe.stdout)")
            #expect(probe.stdout.contains("1 endpoint,"), "\(probe.stdout)")
            #expect(probe.stdout.contains("1 judge,"), "\(probe.stdout)")
        }
    }

    @Test func theProbeReportsAWorkingEndpoint() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in #"{"ok": true}"# }
            defer { Task { try? await stub.stop() } }
            let h = try harness(baseURL: stub.baseURL)
            let probe = try h.run(["check-config", "--probe"])
            #expect(probe.code == 0, "\(probe.stderr)")
            #expect(probe.stdout.contains("probe: endpoint default: ok in "), "\(probe.stdout)")
            #expect(stub.prompts.count == 1)
            // Without --probe nothing is sent.
            _ = try h.run(["check-config"])
            #expect(stub.prompts.count == 1)
        }
    }

    /// A judge that fails every call still has a row in `evald metrics`, with its errors by kind;
    /// a pass/fail judge shows no mean score.
    @Test func metricsShowAJudgeThatFailedEveryCallAndNoScoreForPassFail() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { prompt in
                prompt.contains("SAFETY REVIEW") ? #"{"pass": false, "reason": "curt"}"# : "I think the answer is fine."
            }
            defer { Task { try? await stub.stop() } }
            let h = try harness(baseURL: stub.baseURL, rubrics: [Self.rubric, Self.safety])
            try h.append("a.jsonl", (0..<8).map(Self.line).joined())
            let once = try h.run(["run", "--once"])
            #expect(once.code == 0, "\(once.stderr)")

            let window = ["--until", "2026-11-29T00:00:00Z", "--window", "7d"]
            let json = try h.run(["metrics", "--json"] + window).json
            let series = json["series"] as? [[String: Any]] ?? []
            let helpfulness = try #require(series.first { $0["metric"] as? String == "judge:helpfulness" }, "\(series)")
            #expect(helpfulness["n"] as? Int == 0)
            #expect(helpfulness["judge_errors"] as? Int == 8)
            #expect(helpfulness["judge_error_rate"] as? Double == 1)
            #expect((helpfulness["judge_errors_by_kind"] as? [String: Int]) == ["no_json": 8])
            let safety = try #require(series.first { $0["metric"] as? String == "judge:tone-safety" })
            #expect(safety["n"] as? Int == 8)
            #expect(safety["pass_rate"] as? Double == 0)
            #expect(safety["mean_score"] is NSNull, "\(safety)")
            #expect(safety["judge_errors"] as? Int == 0)

            let text = try h.run(["metrics"] + window).stdout
            let row = try #require(text.split(separator: "\n").first { $0.hasPrefix("judge:helpfulness") }, "\(text)")
            #expect(row.contains("8 (100%: no_json 8)"), "\(row)")
            #expect(!text.contains("0.00000"), "\(text)")
        }
    }

    /// Replies cut at max_tokens are `truncated`; a fraction on 1-5 is `not_an_integer`; the
    /// rubric's placeholder echoed back is `placeholder_echoed`.
    @Test func repliesCutOrBreakingTheScaleAreJudgeErrorsOfTheirOwnKind() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in #"{"score": 4, "reason": "fine"}"# }
            defer { Task { try? await stub.stop() } }
            stub.enqueue([
                .truncated(#"{"score": 4, "reason": "The answer names the order but never says when it"#, tokens: 6),
                .answer(#"{"score": 4.5, "reason": "between good and ideal"}"#),
                .answer(#"{"score": 5, "reason": "<one sentence>"}"#),
            ])
            let h = try harness(baseURL: stub.baseURL, endpoint: ", concurrency: 1")
            try h.append("a.jsonl", (0..<4).map(Self.line).joined())
            let once = try h.run(["run", "--once"])
            #expect(once.code == 0, "\(once.stderr)")
            #expect(try verdictKinds(h).sorted() == ["not_an_integer", "placeholder_echoed", "scored", "truncated"])
            let store = try h.store()
            let truncated = try store.evaluations().flatMap { try store.judgeVerdicts(evaluationID: $0.id) }.compactMap { v -> String? in
                if case .failed("truncated", let message, _) = v.outcome { return message } else { return nil }
            }.first
            #expect(truncated?.contains("max_output_tokens (50 tokens)") == true, "\(truncated ?? "")")
        }
    }

    /// A judge whose golden cases end mostly as judge errors fails the gate (and is not written
    /// into a baseline); without an endpoint it is only a warning.
    @Test func theGateFailsWhenAJudgeMostlyErrs() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in #"{"score": 4, "reason": "fine"}"# }
            defer { Task { try? await stub.stop() } }
            let env = ["EVALD_TEST_GOLDEN_KEY": GoldenIntegrationTests.apiKey]
            let h = try GoldenIntegrationTests.harness(endpoint: stub.baseURL)
            try GoldenIntegrationTests.writeCases(h, GoldenIntegrationTests.cases(leaks: 0))
            #expect(try h.run(["golden", "lock", "support"]).code == 0)
            let written = try h.run(["gate", "support", "--write-baseline"], environment: env)
            #expect(written.code == 0, "\(written.stderr)")
            let baseline = try String(contentsOfFile: h.root + "/golden/support/baseline.json", encoding: .utf8)
            #expect(baseline.contains("judge:helpfulness"))

            stub.enqueue(Array(repeating: .answer("I would say it is a good answer."), count: 20))
            let gate = try h.run(["gate", "support"], environment: env)
            #expect(gate.code == 1, "\(gate.stdout)\(gate.stderr)")
            #expect(gate.stdout.contains("gate FAILED: judge helpfulness: 20 of 20 cases ended as judge errors (no_json 20)"), "\(gate.stdout)")
            #expect(!gate.stdout.contains("gate passed"))

            stub.enqueue(Array(repeating: .truncated(#"{"score": 4, "reason": "the answer is"#, tokens: 3), count: 20))
            let json = try h.run(["gate", "support", "--json"], environment: env)
            #expect(json.code == 1)
            #expect(json.json["passed"] as? Bool == false)
            #expect((json.json["broken_judges"] as? [String])?.first?.contains("(truncated 20)") == true, "\(json.stdout)")

            stub.enqueue(Array(repeating: .answer("no"), count: 20))
            let refused = try h.run(["gate", "support", "--write-baseline"], environment: env)
            #expect(refused.code == 1)
            #expect(refused.stderr.contains("baseline not written: judge helpfulness: 20 of 20 cases"), "\(refused.stderr)")
            #expect(try String(contentsOfFile: h.root + "/golden/support/baseline.json", encoding: .utf8) == baseline)

            // Without an endpoint the judge cannot run: a warning, the gate passes.
            try h.writeConfig(
                (try String(contentsOfFile: h.configPath, encoding: .utf8)).components(separatedBy: "endpoints:").first ?? "")
            let skipped = try h.run(["gate", "support"])
            #expect(skipped.code == 0, "\(skipped.stdout)\(skipped.stderr)")
        }
    }

    /// `status` shows a running `run --once` and its progress; Ctrl-C stops it with a summary of
    /// what was done and what stays queued.
    @Test func ctrlCOnRunOnceSummarisesAndStatusShowsTheRun() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in #"{"score": 4, "reason": "fine"}"# }
            defer { Task { try? await stub.stop() } }
            stub.computeSeconds = 0.5
            let h = try harness(baseURL: stub.baseURL, endpoint: ", concurrency: 1, timeout: 10s")
            try h.append("a.jsonl", (0..<40).map(Self.line).joined())
            let once = try h.start(["run", "--once"], name: "once")
            defer { if once.isRunning { kill(once.processIdentifier, SIGKILL) } }

            var text = ""
            #expect(
                try h.waitUntil(timeout: 30) {
                    text = try h.run(["status"]).stdout
                    return text.contains("evald run --once is running") && text.contains("judging, ") && !text.contains("judging, 0 judged")
                })
            #expect(text.contains("(pid \(once.processIdentifier)"), "\(text)")
            let json = try h.status()
            let running = (json["daemon"] as? [String: Any])?["once"] as? [String: Any]
            #expect(running?["stage"] as? String == "judges")
            #expect(running?["pid"] as? Int == Int(once.processIdentifier))

            kill(once.processIdentifier, SIGINT)
            once.waitUntilExit()
            #expect(once.terminationStatus == 0, "\(h.output("once", "err"))")
            let summary = h.output("once")
            #expect(summary.contains("interrupted (Ctrl-C) with "), "\(summary)")
            #expect(summary.contains("they stay queued for the next run"), "\(summary)")
            let queued = ((try h.status()["judge"] as? [String: Any])?["queue_depth"] as? Int) ?? 0
            #expect(queued > 0 && queued < 40)
            #expect(summary.contains("with \(queued) still queued"), "\(summary)")
            let after = try h.run(["status"]).stdout
            #expect(after.contains("daemon:    not running"), "\(after)")
        }
    }
}
