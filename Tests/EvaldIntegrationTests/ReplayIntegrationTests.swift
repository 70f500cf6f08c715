import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `evald replay` through the binary: stored production inputs of a route go to a stub
/// endpoint as the candidate, the answers are scored by the route's checks and compared
/// paired with the production answers.
@Suite(.serialized) struct ReplayIntegrationTests {
    static let inputs = 60

    /// A harness whose database holds `inputs` answered traces of support-chat (and a few of
    /// another route), all passing the `polite` check (and `extraChecks`, YAML list items).
    static func harness(endpoint: String, extraChecks: String = "") throws -> EvaldHarness {
        let h = try EvaldHarness(
            config: """
                checks:
                  "*":
                    - {name: polite, kind: not_contains, values: ["sorry"], ignore_case: true}
                    - {name: short, kind: length, max: 400}
                \(extraChecks)
                endpoints:
                  candidate: {kind: openai, base_url: "\(endpoint)/v1", model: gpt-4o-mini, timeout: 10s, concurrency: 2}
                """)
        var text = ""
        for n in 0..<inputs {
            text +=
                #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"2026-11-28T10:\#(String(format: "%02d", n % 60)):00Z","route":"support-chat","model":"gpt-4o-mini","prompt_version":"support-v7","input":[{"role":"system","content":"You are a support assistant."},{"role":"user","content":"question \#(n)"}],"output":"Your order \#(n) ships tomorrow."}"#
                + "\n"
        }
        for n in inputs..<(inputs + 5) {
            text +=
                #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"2026-11-28T11:00:00Z","route":"extract-order","model":"gpt-4o-mini","input":[{"role":"user","content":"other \#(n)"}],"output":"{}"}"#
                + "\n"
        }
        try h.append("traces.jsonl", text)
        let once = try h.run(["run", "--once"])
        #expect(once.code == 0, "\(once.stderr)")
        return h
    }

    static func replay(_ h: EvaldHarness, _ extra: [String]) throws -> EvaldHarness.Result {
        try h.run(["replay", "--route", "support-chat", "--endpoint", "candidate", "--since", "3650d", "--json"] + extra)
    }

    static func metric(_ result: EvaldHarness.Result, _ name: String) -> [String: Any]? {
        (result.json["metrics"] as? [[String: Any]])?.first { $0["metric"] as? String == name && $0["measure"] as? String == "pass_rate" }
    }

    @Test func aCandidateThatFailsACheckProductionPassedIsWorseAndExitsOne() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in "Sorry, I cannot help with that." }
            defer { Task { try? await stub.stop() } }
            let h = try Self.harness(endpoint: stub.baseURL)
            try "You are terse.".write(toFile: h.root + "/candidate.txt", atomically: true, encoding: .utf8)
            let result = try Self.replay(h, ["--system-prompt", "candidate.txt", "--sample", "40"])
            #expect(result.code == 1, "\(result.stdout)\n\(result.stderr)")
            #expect(result.json["n"] as? Int == 40)
            #expect(result.json["prompt_version"] as? String == "support-v7")
            let polite = try #require(Self.metric(result, "check:polite"))
            #expect(polite["verdict"] as? String == "worse")
            #expect(polite["production"] as? Double == 1 && polite["candidate"] as? Double == 0)
            #expect(Self.metric(result, "check:short")?["verdict"] as? String == "equivalent")
            #expect((result.json["losses"] as? [[String: Any]])?.count == 40)
            // The candidate's system message replaced production's; the user turn went as stored.
            let body = try #require(stub.requests.last.flatMap { (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any] })
            let messages = try #require(body["messages"] as? [[String: Any]])
            #expect(messages.first?["content"] as? String == "You are terse.")
            #expect(messages.count == 2)
            // Only the route's inputs, each once.
            #expect(Set(stub.prompts).count == 40 && stub.prompts.allSatisfy { $0.hasPrefix("question ") })
            // The text form names the metric, and explain shows the same replay again.
            let id = try #require(result.json["id"] as? String)
            let explained = try h.run(["explain", id])
            #expect(explained.code == 1)
            #expect(explained.stdout.contains("check:polite") && explained.stdout.contains("worse"), "\(explained.stdout)")
            #expect(explained.stdout.contains("inputs the candidate lost"))
            // The losses become golden cases, with production's answers as references.
            let added = try h.run(["golden", "add", "regressions", "--from-replay", id])
            #expect(added.code == 0, "\(added.stderr)")
            let cases = try String(contentsOfFile: h.root + "/golden/regressions/cases.jsonl", encoding: .utf8).split(separator: "\n")
            #expect(cases.count == 40)
            let first = try #require(try JSONSerialization.jsonObject(with: Data(cases[0].utf8)) as? [String: Any])
            #expect((first["reference"] as? String)?.hasPrefix("Your order") == true)
            // Added again: nothing twice.
            #expect(try h.run(["golden", "add", "regressions", "--from-replay", id]).stdout.contains("added 0 cases"))
        }
    }

    /// The candidate's tool calls are kept and scored: one that calls a tool production never
    /// needed fails the `tool_calls` check, so the candidate is worse.
    @Test func aCandidateThatCallsAToolOffTheListIsWorse() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start(answering: { _ in
                .init(text: "Done.", toolCalls: [(name: "issue_refund", arguments: #"{"order": "A-1"}"#)])
            })
            defer { Task { try? await stub.stop() } }
            let h = try Self.harness(
                endpoint: stub.baseURL, extraChecks: "    - {name: tools, kind: tool_calls, allowed: [lookup_order]}")
            let result = try Self.replay(h, ["--sample", "20"])
            #expect(result.code == 1, "\(result.stdout)\n\(result.stderr)")
            let tools = try #require(Self.metric(result, "check:tools"))
            #expect(tools["verdict"] as? String == "worse")
            #expect(tools["production"] as? Double == 1 && tools["candidate"] as? Double == 0)
            // The answer's text is as polite as production's: only the tool call is worse.
            #expect(Self.metric(result, "check:polite")?["candidate"] as? Double == 1)
        }
    }

    @Test func anIdenticalCandidateIsEquivalentAndExitsZero() async throws {
        try await onTestThreads {
            // Answers as production's, on the same inputs.
            let stub = try await StubJudgeServer.start { prompt in "Your order \(prompt.split(separator: " ").last ?? "") ships tomorrow." }
            defer { Task { try? await stub.stop() } }
            let h = try Self.harness(endpoint: stub.baseURL)
            let result = try Self.replay(h, [])
            #expect(result.code == 0, "\(result.stdout)\n\(result.stderr)")
            #expect(result.json["n"] as? Int == Self.inputs)
            #expect(Self.metric(result, "check:polite")?["verdict"] as? String == "equivalent")
            #expect((result.json["losses"] as? [[String: Any]])?.isEmpty == true)
        }
    }

    @Test func theBudgetStopsARunAndResumeFinishesItWithoutSendingAnInputTwice() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in "Sorry, no." }
            defer { Task { try? await stub.stop() } }
            let h = try Self.harness(endpoint: stub.baseURL)
            let first = try Self.replay(h, ["--budget-tokens", "100", "--concurrency", "1"])
            let stopped = try #require(first.json["stopped"] as? String, "\(first.stdout)\n\(first.stderr)")
            #expect(stopped.hasPrefix("budget:"))
            let done = try #require(first.json["n"] as? Int)
            #expect(done > 0 && done < Self.inputs)
            let id = try #require(first.json["id"] as? String)
            let resumed = try h.run(["replay", "--resume", id, "--json"])
            #expect(resumed.code == 1, "\(resumed.stdout)\n\(resumed.stderr)")
            #expect(resumed.json["n"] as? Int == Self.inputs && resumed.json["stopped"] is NSNull)
            #expect(stub.prompts.count == Self.inputs && Set(stub.prompts).count == Self.inputs)
        }
    }

    @Test func killMinus9MidReplayThenResumeSendsNoInputTwice() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in "Sorry, no." }
            stub.delay = 0.2
            defer { Task { try? await stub.stop() } }
            let h = try Self.harness(endpoint: stub.baseURL)
            let process = try h.start(
                ["replay", "--route", "support-chat", "--endpoint", "candidate", "--since", "3650d", "--concurrency", "2"], logName: "replay.log")
            #expect(h.waitUntil(timeout: 30) { stub.prompts.count >= 10 })
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let sentBefore = stub.prompts.count
            #expect(sentBefore < Self.inputs, "killed mid-replay")
            let id = try #require(try h.store().replay(id: 1)).publicID
            stub.delay = 0
            let resumed = try h.run(["replay", "--resume", id, "--json"])
            #expect(resumed.code == 1, "\(resumed.stdout)\n\(resumed.stderr)")
            // Every input was sent at most once: what was in flight at the kill is reported, not resent.
            #expect(Set(stub.prompts).count == stub.prompts.count, "duplicates: \(stub.prompts.count - Set(stub.prompts).count)")
            let interrupted = try #require(resumed.json["interrupted"] as? Int)
            let compared = try #require(resumed.json["n"] as? Int)
            #expect(compared + interrupted == Self.inputs)
            #expect(stub.prompts.count == compared + interrupted)
            #expect(resumed.json["pending"] as? Int == 0)
        }
    }

    @Test func badInputExitsTwoAndADeadEndpointExitsThree() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in "fine" }
            let h = try Self.harness(endpoint: stub.baseURL)
            #expect(try h.run(["replay", "--route", "no-such-route", "--endpoint", "candidate", "--since", "3650d"]).code == 2)
            #expect(try h.run(["replay", "--route", "support-chat", "--endpoint", "nope", "--since", "3650d"]).code == 2)
            #expect(try h.run(["replay", "--resume", "r-99"]).code == 2)
            try await stub.stop()
            let dead = try Self.replay(h, ["--sample", "5"])
            #expect(dead.code == 3, "\(dead.stdout)\n\(dead.stderr)")
            #expect(dead.stderr.contains("candidate"), "\(dead.stderr)")
        }
    }
}

/// `judge.send`: what may leave evald for an endpoint at all.
@Suite struct JudgeSendIntegrationTests {
    @Test func aRubricThatSendsAWithheldFieldIsRefusedAndReplayNeedsInput() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in "fine" }
            defer { Task { try? await stub.stop() } }
            let h = try ReplayIntegrationTests.harness(endpoint: stub.baseURL)
            let judges = h.root + "/judges"
            try FileManager.default.createDirectory(atPath: judges, withIntermediateDirectories: true)
            try """
            ---
            name: grounded
            version: 1
            scale: pass_fail
            endpoint: candidate
            ---
            Question: {{input_text}}
            Answer: {{output}}
            Reply with JSON {"pass": true|false, "reason": "..."}.
            """.write(toFile: judges + "/grounded.md", atomically: true, encoding: .utf8)
            let config = try String(contentsOfFile: h.configPath, encoding: .utf8)
            try (config + "\njudge: {dir: judges, send: [output]}\n").write(toFile: h.configPath, atomically: true, encoding: .utf8)
            let check = try h.run(["check-config"])
            #expect(check.code == 2, "\(check.stdout)\n\(check.stderr)")
            #expect(check.stderr.contains("grounded.md") && check.stderr.contains("judge.send"), "\(check.stderr)")
            #expect(check.stderr.contains("sends input"), "\(check.stderr)")
            // Replay sends the stored inputs: refused while judge.send keeps input in.
            try (config + "\njudge: {dir: judges-none, send: [output]}\n").write(toFile: h.configPath, atomically: true, encoding: .utf8)
            let replay = try ReplayIntegrationTests.replay(h, ["--sample", "3"])
            #expect(replay.code == 2 && replay.stderr.contains("judge.send"), "\(replay.stderr)")
            #expect(stub.prompts.isEmpty)
        }
    }
}
