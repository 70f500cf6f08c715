import EvaldCore
import EvaldDaemon
import EvaldHTTP
import EvaldTesting
import Foundation
import Testing

/// The runner the CLI and the canary share: fresh answers replace the recorded ones, judge
/// calls go through the production client, and --judge-timeout bounds the wait.
@Suite struct GoldenRunnerTests {
    @Test func replacedAnswersAreJudgedAndUnfinishedCallsCountAsErrorsNotFailures() async throws {
        let stub = try await StubJudgeServer.start { prompt in
            prompt.contains("fresh answer") ? #"{"score": 5, "reason": "good"}"# : #"{"score": 2, "reason": "weak"}"#
        }
        defer { Task { try? await stub.stop() } }
        let root = NSTemporaryDirectory() + "golden-runner-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/judges", withIntermediateDirectories: true)
        try """
        ---
        name: helpfulness
        version: 1
        applies_to: ["support-*"]
        scale: {min: 1, max: 5}
        pass_at: 4
        ---
        Answer: {{output}}
        Reply with JSON only: {"score": <1-5>, "reason": "<one sentence>"}
        """.write(toFile: root + "/judges/h.md", atomically: true, encoding: .utf8)
        let (config, _) = try EvaldConfig.parse(
            yaml: """
                spool: {dir: spool}
                checks:
                  "*":
                    - {name: no-pii, kind: pii}
                endpoints:
                  default: {kind: openai, base_url: "\(stub.baseURL)/v1", model: m, api_key_env: GOLDEN_RUNNER_KEY, timeout: 30s, max_retries: 0}
                judge: {dir: judges}
                """, path: root + "/evald.yaml", environment: [:])
        let transport = HTTPTransport()
        let (roster, _) = try JudgeRoster.build(config: config, transport: transport, environment: ["GOLDEN_RUNNER_KEY": "sk-test-runner"])
        let runner = GoldenRunner(checks: try Daemon.makeCheckPlan(config), roster: roster)

        let text = (0..<3).map {
            #"{"id":"c\#($0)","trace_id":"t\#($0)","timestamp":"2026-11-28T10:00:00Z","route":"support-chat","model":"m","output":"recorded answer \#($0)"}"#
        }
        .joined(separator: "\n")
        let (cases, problems) = GoldenCaseParser.parse(Array(text.utf8), path: "cases.jsonl")
        #expect(problems.isEmpty)
        // The canary's way: the case's input with a fresh answer.
        let replayed = [cases[0].answered(output: "fresh answer, mail me at a@example.com"), cases[1], cases[2]]
        // First every call answers: the fresh answer and the recorded ones are graded.
        let result = await runner.run(set: "s", cases: replayed, judgeTimeout: 600)
        #expect(!result.judgeTimedOut)
        let judge = try #require(result.judges.first)
        #expect(judge.cases == 3 && judge.scored == 3 && judge.errors == 0)
        let rate = try #require(result.metrics.first { $0.name == "judge:helpfulness" })
        #expect(rate.n == 3 && rate.passes == 1, "the fresh answer scores 5, the recorded ones 2")
        // The fresh answer was checked (its e-mail fails no-pii) and sent redacted.
        let pii = try #require(result.metrics.first { $0.name == "check:no-pii" })
        #expect(pii.passes == 2)

        // Then the endpoint hangs: at --judge-timeout every unfinished call is a judge error,
        // never a failing verdict. (All of them hang, so the outcome does not depend on how
        // fast a loaded machine runs the others.)
        stub.enqueue([.hang, .hang, .hang])
        let hung = await runner.run(set: "s", cases: replayed, judgeTimeout: 2)
        try? await transport.shutdown()
        #expect(hung.judgeTimedOut)
        let hungJudge = try #require(hung.judges.first)
        #expect(hungJudge.scored == 0 && hungJudge.errors == 3)
        #expect(hung.cases.flatMap(\.judges).allSatisfy { $0.status == .error && $0.error?.contains("--judge-timeout") == true })
        #expect(hung.metrics.first { $0.name == "judge:helpfulness" } == nil, "no verdict, no pass rate")
        #expect(stub.prompts.contains { $0.contains("fresh answer") })
        #expect(!stub.prompts.contains { $0.contains("a@example.com") })
    }
}
