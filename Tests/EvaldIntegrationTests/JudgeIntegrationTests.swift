import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The real binary, a real spool and database, and the judge stub on 127.0.0.1.
@Suite(.serialized) struct JudgeIntegrationTests {
    static let apiKey = "sk-test-7f3c9a1e5b2d4c6e8f0a1b2c3d4e5f60"

    static let rubric = """
        ---
        name: helpfulness
        version: 2
        applies_to: ["support-*", "refunds-*"]
        scale: {min: 1, max: 5}
        pass_at: 4
        ---
        Grade the answer.
        Question: {{last_user_message}}
        Answer: {{output}}
        Reply with JSON only: {"score": <1-5>, "reason": "<one sentence>"}
        """

    /// A record whose question and answer carry an e-mail address and a card number.
    static func line(_ n: Int, route: String = "support-chat") -> String {
        let id = EvaldHarness.traceID(n)
        return
            #"{"trace_id":"\#(id)","timestamp":"2026-11-28T10:00:00.000Z","route":"\#(route)","model":"gpt-4o-mini","input":[{"role":"user","content":"I am jane.doe\#(n)@example.com, card 4111 1111 1111 1111, my key sk-proj-Q2x9LmN4vB7cR1tY6uK3wE8aZ5. Where is order \#(n)?"}],"output":"Order \#(n) shipped; we wrote to jane.doe\#(n)@example.com.","latency_ms":900}"#
            + "\n"
    }

    func harness(stub: StubJudgeServer, extra: String = "") throws -> EvaldHarness {
        let h = try EvaldHarness(
            config: """
                endpoints:
                  default: {kind: openai, base_url: "\(stub.baseURL)/v1", model: judge-model, api_key_env: EVALD_TEST_JUDGE_KEY, timeout: 10s, max_retries: 2}
                judge:
                  dir: judges
                \(extra)
                """)
        try FileManager.default.createDirectory(atPath: h.root + "/judges", withIntermediateDirectories: true)
        try Self.rubric.write(toFile: h.root + "/judges/helpfulness.md", atomically: true, encoding: .utf8)
        return h
    }

    var env: [String: String] { ["EVALD_TEST_JUDGE_KEY": Self.apiKey] }

    func scores(_ h: EvaldHarness) throws -> [(evaluation: Int64, verdict: JudgeVerdictRecord)] {
        let store = try h.store()
        return try store.evaluations().flatMap { e in try store.judgeVerdicts(evaluationID: e.id).map { (e.id, $0) } }
    }

    @Test func runOnceJudgesEverySampledTraceWithRedactedPromptsAndNoKeyInLogsOrDatabase() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in #"{"score": 4, "reason": "answers the question"}"# }
            defer { Task { try? await stub.stop() } }
            let h = try harness(stub: stub)
            // 30 judged routes, 10 on a route no judge applies to.
            try h.append("a.jsonl", (0..<30).map { Self.line($0) }.joined() + (30..<40).map { Self.line($0, route: "extract-order") }.joined())

            let once = try h.run(["run", "--once"], environment: env)
            #expect(once.code == 0, "\(once.stderr)")
            #expect(once.stdout.contains("judges: 30 judged"), "\(once.stdout)")

            let scores = try scores(h)
            #expect(scores.count == 30)
            #expect(Set(scores.map(\.evaluation)).count == 30)
            #expect(scores.allSatisfy { $0.verdict.outcome == .scored(score: 4, passed: true, reason: "answers the question") })
            #expect(scores.allSatisfy { $0.verdict.identity.hasPrefix("helpfulness@2+") && $0.verdict.identity.count == "helpfulness@2+".count + 8 })

            // What left the machine: redacted, and the key only in its header.
            #expect(stub.prompts.count == 30, "a timeout made the client retry: is the stub starved?")
            for prompt in stub.prompts {
                #expect(!prompt.contains("@example.com"))
                #expect(!prompt.contains("4111"))
                #expect(!prompt.contains("sk-proj-Q2x9"))
                #expect(prompt.contains("Where is order"))
            }
            #expect(stub.requests.allSatisfy { $0.header("authorization") == "Bearer \(Self.apiKey)" })

            // The key is nowhere in what evald wrote.
            let status = try h.run(["status", "--json"], environment: env)
            let judge = status.json["judge"] as? [String: Any]
            #expect(judge?["queue_depth"] as? Int == 0)
            #expect(judge?["judged"] as? Int == 30)
            #expect(judge?["errors"] as? Int == 0)
            for text in [once.stdout, once.stderr, status.stdout, try h.run(["status"], environment: env).stdout] {
                #expect(!text.contains(Self.apiKey))
            }
            for file in try FileManager.default.contentsOfDirectory(atPath: h.state) {
                let bytes = FileManager.default.contents(atPath: h.state + "/" + file) ?? Data()
                #expect(bytes.range(of: Data(Self.apiKey.utf8)) == nil, "key found in \(file)")
            }

            // explain shows the judge's reason.
            let explain = try h.run(["explain", "e-1"])
            #expect(explain.stdout.contains("helpfulness@2+"))
            #expect(explain.stdout.contains("answers the question"))
        }
    }

    @Test func faultsAreRetriedAndUnusableRepliesBecomeJudgeErrorsNotFailingScores() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in #"{"score": 5, "reason": "good"}"# }
            defer { Task { try? await stub.stop() } }
            // Consumed in order by the first requests; the client retries the transient ones.
            stub.enqueue([
                .tooManyRequests(retryAfter: "1"), .serverError(503), .closeConnection, .malformedJSON,
                .answer("Sure! Here is my grade:\n```json\n{\"score\": 9, \"reason\": \"off the scale\"}\n```"),
                .answer("I think the answer is fine."),
            ])
            let h = try harness(stub: stub)
            try h.append("a.jsonl", (0..<6).map { Self.line($0) }.joined())
            let once = try h.run(["run", "--once"], environment: env)
            #expect(once.code == 0, "\(once.stderr)")

            let verdicts = try scores(h).map(\.verdict)
            #expect(verdicts.count == 6)
            let errors = verdicts.compactMap { v -> String? in if case .failed(let kind, _, _) = v.outcome { return kind } else { return nil } }
            // 429, 503 and the closed connection are retried into good answers. The malformed body
            // is the endpoint's fault (bad_response), the score of 9 is out of range, the prose has no JSON.
            #expect(errors.sorted() == ["bad_response", "no_json", "out_of_range"].sorted(), "\(verdicts)")
            #expect(verdicts.filter { if case .scored(5, true, _) = $0.outcome { return true } else { return false } }.count == 3)
            let outOfRange = try #require(verdicts.first { if case .failed("out_of_range", _, _) = $0.outcome { return true } else { return false } })
            if case .failed(_, _, let excerpt) = outOfRange.outcome { #expect(excerpt?.hasPrefix("Sure! Here is my grade") == true) }
            // A judge error is never a failing score: the judge series counts only the three scores.
            let totals = try h.store().seriesTotals(since: .distantPast, until: .distantFuture)
            let series = try #require(totals.first { $0.metric.hasPrefix("judge:helpfulness@2+") })
            #expect(series.cell.n == 3 && series.cell.passN == 3)

            let status = try h.run(["status", "--json"])
            #expect((status.json["judge"] as? [String: Any])?["errors"] as? Int == 3)
        }
    }

    @Test func anOutageDelaysScoresAndLosesNone() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in #"{"score": 3, "reason": "partly"}"# }
            defer { Task { try? await stub.stop() } }
            stub.enqueue(Array(repeating: .serverError(500), count: 1000))
            let h = try harness(stub: stub)
            try h.append("a.jsonl", (0..<10).map { Self.line($0) }.joined())
            let first = try h.run(["run", "--once", "--judge-timeout", "2s"], environment: env)
            #expect(first.code == 0, "\(first.stderr)")
            #expect(first.stdout.contains("10 still queued"), "\(first.stdout)")
            #expect(try scores(h).isEmpty)
            #expect(try h.store().judgeQueueSummary().depth == 10)

            // The endpoint recovers: the next run judges all ten, once each.
            stub.clearQueue()
            let second = try h.run(["run", "--once", "--judge-timeout", "60s"], environment: env)
            #expect(second.code == 0, "\(second.stderr)")
            let verdicts = try scores(h)
            #expect(verdicts.count == 10)
            #expect(Set(verdicts.map(\.evaluation)).count == 10)
            #expect(try h.store().judgeQueueSummary().depth == 0)
        }
    }

    @Test func killDuringJudgingLosesNoQueuedTraceAndScoresNoneTwice() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in #"{"score": 4, "reason": "ok"}"# }
            defer { Task { try? await stub.stop() } }
            // Slow enough answers, and enough traces, that six short runs cannot judge them all
            // (the stub answers on threads of its own now, and a poll may wait for the lock).
            stub.delay = 0.5
            let h = try harness(stub: stub)
            let total = 120
            try h.append("a.jsonl", (0..<total).map { Self.line($0) }.joined())
            for round in 0..<6 {
                let judged = try scores(h).count
                let daemon = try h.startDaemon(logName: "daemon-\(round).log", environment: env)
                // Let it ingest and judge a little (a new verdict, however slow a loaded machine
                // makes the start), then kill it without warning a moment later.
                _ = try h.waitUntil(timeout: 20) { try scores(h).count > judged }
                usleep(useconds_t(round * 60_000))
                kill(daemon.processIdentifier, SIGKILL)
                daemon.waitUntilExit()
                #expect(daemon.terminationReason == .uncaughtSignal)
            }
            // The kills fell in the middle of the work: some verdicts stored, not all.
            let beforeFinish = try scores(h).count
            #expect(beforeFinish > 0 && beforeFinish < total, "\(beforeFinish) of \(total) judged before the last run")
            let finish = try h.run(["run", "--once", "--judge-timeout", "60s"], environment: env)
            #expect(finish.code == 0, "\(finish.stderr)")
            let verdicts = try scores(h)
            #expect(verdicts.count == total)
            #expect(Set(verdicts.map(\.evaluation)).count == total)
            #expect(try h.store().judgeQueueSummary().depth == 0)
            let counters = try h.store().counters()
            #expect(counters["judged"] == Int64(total))
            #expect(counters["judge_queued"] == Int64(total))
            // Some calls were in flight at a kill and were sent again: that costs tokens, not correctness.
            #expect(stub.prompts.count >= total)
        }
    }

    @Test func aSpentDailyBudgetPausesJudgingAndKeepsTheRestQueued() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in #"{"score": 4, "reason": "ok"}"# }
            defer { Task { try? await stub.stop() } }
            let h = try harness(stub: stub)
            // About 100 tokens a call (the stub counts characters / 4): the budget lasts a few calls.
            try h.writeConfig(
                try String(contentsOfFile: h.configPath, encoding: .utf8)
                    .replacingOccurrences(of: "max_retries: 2}", with: "max_retries: 2, concurrency: 1, daily_token_budget: 300}"))
            try h.append("a.jsonl", (0..<20).map { Self.line($0) }.joined())
            let once = try h.run(["run", "--once"], environment: env)
            #expect(once.code == 0, "\(once.stderr)")
            #expect(once.stdout.contains("still queued: helpfulness: budget spent"), "\(once.stdout)")
            let judged = try scores(h).count
            #expect(judged >= 1 && judged < 20)
            #expect(stub.prompts.count == judged)

            let status = try h.run(["status", "--json"])
            let judge = try #require(status.json["judge"] as? [String: Any])
            #expect(judge["budget_left_tokens"] as? Int == 0)
            #expect(judge["queue_depth"] as? Int == 20 - judged)
            let helpfulness = try #require((judge["judges"] as? [[String: Any]])?.first)
            #expect(helpfulness["state"] as? String == "paused")
            #expect((helpfulness["reason"] as? String)?.contains("daily_token_budget of 300") == true)
        }
    }

    @Test func anthropicEndpointsJudgeThroughTheMessagesAPI() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in "Grade:\n```json\n{\"score\": 2, \"reason\": \"misses the point\"}\n```" }
            defer { Task { try? await stub.stop() } }
            let h = try harness(stub: stub)
            try h.writeConfig(
                try String(contentsOfFile: h.configPath, encoding: .utf8)
                    .replacingOccurrences(of: "kind: openai, base_url: \"\(stub.baseURL)/v1\"", with: "kind: anthropic, base_url: \"\(stub.baseURL)\""))
            try h.append("a.jsonl", (0..<5).map { Self.line($0) }.joined())
            let once = try h.run(["run", "--once"], environment: env)
            #expect(once.code == 0, "\(once.stderr)")
            let verdicts = try scores(h).map(\.verdict.outcome)
            #expect(verdicts == Array(repeating: .scored(score: 2, passed: false, reason: "misses the point"), count: 5))
            #expect(stub.requests.allSatisfy { $0.path == "/v1/messages" && $0.header("x-api-key") == Self.apiKey && $0.header("anthropic-version") != nil })
            // evald metrics: the judge series named judge:NAME, with its identity, pass rate and mean score.
            let metrics = try h.run(["metrics", "--json", "--until", "2026-11-29T00:00:00Z", "--window", "1d"])
            let series = try #require((metrics.json["series"] as? [[String: Any]])?.first { $0["metric"] as? String == "judge:helpfulness" })
            #expect((series["judge"] as? String)?.hasPrefix("helpfulness@2+") == true)
            #expect(series["n"] as? Int == 5)
            #expect(series["pass_rate"] as? Double == 0)
            #expect(series["mean_score"] as? Double == 2)
            // A failing score makes explain exit 1 and show the reason.
            let explain = try h.run(["explain", "e-1"])
            #expect(explain.code == 1)
            #expect(explain.stdout.contains("FAIL helpfulness@2+"))
        }
    }

    @Test func explainShowsAPassFailJudgeAsPassOrFailAndANumericOneOnItsScale() async throws {
        try await onTestThreads {
            // The tone judge fails every trace; helpfulness scores 4 on its 1-5 scale.
            let stub = try await StubJudgeServer.start { prompt in
                prompt.contains("Is the tone polite") ? #"{"pass": false, "reason": "curt"}"# : #"{"score": 4, "reason": "answers it"}"#
            }
            defer { Task { try? await stub.stop() } }
            let h = try harness(stub: stub)
            try """
            ---
            name: tone
            version: 1
            scale: pass_fail
            ---
            Is the tone polite? Answer: {{output}}
            Reply with JSON only: {"pass": true or false, "reason": "<one sentence>"}
            """.write(toFile: h.root + "/judges/tone.md", atomically: true, encoding: .utf8)
            try h.append("a.jsonl", Self.line(0))
            let once = try h.run(["run", "--once"], environment: env)
            #expect(once.code == 0, "\(once.stderr)")

            let explain = try h.run(["explain", "e-1"])
            #expect(explain.code == 1, "the tone judge failed it")
            let lines = explain.stdout.split(separator: "\n").map(String.init)
            let tone = try #require(lines.first { $0.contains("tone@1+") }, "\(explain.stdout)")
            #expect(tone.hasPrefix("  FAIL tone@1+") && tone.contains(": fail (pass/fail judge): curt"), "\(tone)")
            #expect(!tone.contains("score"), "a pass/fail verdict has no score to show: \(tone)")
            let helpfulness = try #require(lines.first { $0.contains("helpfulness@2+") })
            #expect(helpfulness.contains("pass helpfulness@2+") && helpfulness.contains(": score 4 on 1-5, passes at 4: answers it"), "\(helpfulness)")

            let json = try h.run(["explain", "e-1", "--json"])
            let judges = try #require(json.json["judges"] as? [[String: Any]])
            let toneJSON = try #require(judges.first { $0["name"] as? String == "tone" })
            #expect(toneJSON["scale"] as? String == "pass_fail")
            #expect(toneJSON["passed"] as? Bool == false)
            let helpfulnessJSON = try #require(judges.first { $0["name"] as? String == "helpfulness" })
            #expect(helpfulnessJSON["scale"] as? [String: Double] == ["min": 1, "max": 5])
            #expect(helpfulnessJSON["pass_at"] as? Double == 4)

            // A rubric edited since (a new identity) lends its scale only when the stored score
            // and verdict agree with it: a new version of the same 1-5 scale does, a 0-10 scale
            // passing at 8 does not (the 4 passed). A rubric that is gone leaves the bare score.
            try FileManager.default.removeItem(atPath: h.root + "/judges/tone.md")
            try Self.rubric.replacingOccurrences(of: "version: 2", with: "version: 3")
                .write(toFile: h.root + "/judges/helpfulness.md", atomically: true, encoding: .utf8)
            let renamed = try h.run(["explain", "e-1"]).stdout.split(separator: "\n").map(String.init)
            #expect(renamed.contains { $0.hasPrefix("  FAIL tone@1+") && $0.hasSuffix(": score 0: curt") }, "\(renamed)")
            #expect(renamed.contains { $0.contains("helpfulness@2+") && $0.hasSuffix(": score 4 on 1-5, passes at 4: answers it") }, "\(renamed)")
            try Self.rubric.replacingOccurrences(of: "version: 2", with: "version: 3")
                .replacingOccurrences(of: "scale: {min: 1, max: 5}", with: "scale: {min: 0, max: 10}")
                .replacingOccurrences(of: "pass_at: 4", with: "pass_at: 8")
                .write(toFile: h.root + "/judges/helpfulness.md", atomically: true, encoding: .utf8)
            let rescaled = try h.run(["explain", "e-1"]).stdout.split(separator: "\n").map(String.init)
            #expect(rescaled.contains { $0.hasPrefix("  pass helpfulness@2+") && $0.hasSuffix(": score 4: answers it") }, "\(rescaled)")
        }
    }

    @Test func sighupLoadsANewJudgeForTracesReadAfterIt() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { prompt in
                prompt.contains("Is the tone polite") ? #"{"pass": true, "reason": "polite"}"# : #"{"score": 5, "reason": "good"}"#
            }
            defer { Task { try? await stub.stop() } }
            let h = try harness(stub: stub)
            try h.append("a.jsonl", (0..<5).map { Self.line($0) }.joined())
            let daemon = try h.startDaemon(environment: env)
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            #expect(try h.waitUntil { try scores(h).count == 5 }, "\((try? String(contentsOfFile: h.root + "/daemon.log", encoding: .utf8)) ?? "")")

            try """
            ---
            name: tone
            version: 1
            scale: pass_fail
            ---
            Is the tone polite? Answer: {{output}}
            Reply with JSON only: {"pass": true or false, "reason": "<one sentence>"}
            """.write(toFile: h.root + "/judges/tone.md", atomically: true, encoding: .utf8)
            kill(daemon.processIdentifier, SIGHUP)
            #expect(try h.waitUntil { (try String(contentsOfFile: h.root + "/daemon.log", encoding: .utf8)).contains("msg=config.reloaded") })
            try h.append("a.jsonl", (5..<10).map { Self.line($0) }.joined())
            #expect(try h.waitUntil { try scores(h).count == 15 })
            let tone = try scores(h).filter { $0.verdict.judgeName == "tone" }
            #expect(tone.count == 5)
            #expect(tone.allSatisfy { $0.verdict.outcome == .scored(score: 1, passed: true, reason: "polite") })
            let status = try h.run(["status", "--json"])
            let judges = ((status.json["judge"] as? [String: Any])?["judges"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(judges == ["helpfulness", "tone"])
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
        }
    }
}
