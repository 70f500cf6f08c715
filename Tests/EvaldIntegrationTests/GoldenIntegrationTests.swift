import EvaldTesting
import Foundation
import Testing

/// `evald golden lock`, `evald gate` and `evald calibrate` through the real binary.
@Suite(.serialized) struct GoldenIntegrationTests {
    static let apiKey = "sk-test-golden-4b1d9e2c7a5f3e8d0c6b"

    static let rubric = """
        ---
        name: helpfulness
        version: 1
        applies_to: ["support-*"]
        scale: {min: 1, max: 5}
        pass_at: 4
        ---
        Grade the answer.
        Question: {{last_user_message}}
        Answer: {{output}}
        Reply with JSON only: {"score": <1-5>, "reason": "<one sentence>"}
        """

    /// A support case; `leak` puts an e-mail address in the answer (fails the pii check).
    static func line(_ n: Int, output: String? = nil, leak: Bool = false, label: String? = nil) -> String {
        let answer = output ?? (leak ? "Order \(n) shipped; I also mailed jane\(n)@example.com about it." : "Order \(n) shipped yesterday and arrives Friday.")
        let labelPart = label.map { #","label":\#($0)"# } ?? ""
        return
            #"{"id":"case-\#(n)","trace_id":"golden-\#(n)","timestamp":"2026-11-28T10:00:00Z","route":"support-chat","model":"gpt-4o-mini","input":[{"role":"user","content":"Where is order \#(n)?"}],"output":"\#(answer)","latency_ms":900\#(labelPart)}"#
            + "\n"
    }

    static func harness(endpoint: String? = nil) throws -> EvaldHarness {
        let endpoints =
            endpoint.map {
                "endpoints:\n  default: {kind: openai, base_url: \"\($0)/v1\", model: judge-model, api_key_env: EVALD_TEST_GOLDEN_KEY, timeout: 60s, max_retries: 0}\n"
            } ?? ""
        let h = try EvaldHarness(
            config: """
                checks:
                  "*":
                    - {name: no-pii, kind: pii}
                    - {name: fast, kind: latency, max_ms: 8000}
                judge:
                  dir: judges
                golden:
                  dir: golden
                calibration:
                  min_kappa: 0.6
                \(endpoints)
                """)
        try FileManager.default.createDirectory(atPath: h.root + "/judges", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: h.root + "/golden/support", withIntermediateDirectories: true)
        try Self.rubric.write(toFile: h.root + "/judges/helpfulness.md", atomically: true, encoding: .utf8)
        return h
    }

    static func writeCases(_ h: EvaldHarness, _ text: String) throws {
        try text.write(toFile: h.root + "/golden/support/cases.jsonl", atomically: true, encoding: .utf8)
    }

    /// 20 cases of which `leaks` leak an e-mail address.
    static func cases(leaks: Int) -> String {
        (0..<20).map { line($0, leak: $0 < leaks) }.joined()
    }

    @Test func anUnlockedOrChangedSetIsRefusedNamingTheFile() async throws {
        try await onTestThreads {
            let h = try Self.harness()
            try Self.writeCases(h, Self.cases(leaks: 0))
            let unlocked = try h.run(["gate", "support", "--write-baseline"])
            #expect(unlocked.code == 2)
            #expect(unlocked.stderr.contains("not locked"), "\(unlocked.stderr)")
            #expect(unlocked.stderr.contains("evald golden lock support"))

            let lock = try h.run(["golden", "lock", "support"])
            #expect(lock.code == 0, "\(lock.stderr)")
            #expect(lock.stdout.contains("cases.jsonl"))
            #expect(lock.stdout.contains("judges/helpfulness.md"), "the judge of the set's route is locked: \(lock.stdout)")
            let lockFile = try String(contentsOfFile: h.root + "/golden/support/golden.lock", encoding: .utf8)
            #expect(lockFile.contains("\"version\": 1"))

            let noBaseline = try h.run(["gate", "support"])
            #expect(noBaseline.code == 2)
            #expect(noBaseline.stderr.contains("--write-baseline"), "\(noBaseline.stderr)")
            #expect(try h.run(["gate", "support", "--write-baseline"]).code == 0)
            let same = try h.run(["gate", "support"])
            #expect(same.code == 0, "\(same.stdout)\(same.stderr)")
            #expect(same.stdout.contains("gate passed"))

            // An edited case: refused, naming cases.jsonl and the command that accepts the change.
            try Self.writeCases(h, Self.cases(leaks: 0).replacingOccurrences(of: "arrives Friday", with: "arrives Monday"))
            let changed = try h.run(["gate", "support"])
            #expect(changed.code == 2)
            #expect(changed.stderr.contains("cases.jsonl changed since the set was locked"), "\(changed.stderr)")
            #expect(changed.stderr.contains("evald golden lock support"))
            #expect(try h.run(["calibrate", "support"]).code == 2)

            // Back to the locked bytes, then an edited judge: refused, naming the judge file.
            try Self.writeCases(h, Self.cases(leaks: 0))
            #expect(try h.run(["gate", "support"]).code == 0)
            try (Self.rubric + "\nBe strict.\n").write(toFile: h.root + "/judges/helpfulness.md", atomically: true, encoding: .utf8)
            let judgeChanged = try h.run(["gate", "support"])
            #expect(judgeChanged.code == 2)
            #expect(judgeChanged.stderr.contains("judges/helpfulness.md changed"), "\(judgeChanged.stderr)")

            // A bad case line is bad input with its line and key.
            try Self.writeCases(h, Self.cases(leaks: 0) + #"{"trace_id":"x","timestamp":"2026-11-28T10:00:00Z","output":"y"}"# + "\n")
            let bad = try h.run(["golden", "lock", "support"])
            #expect(bad.code == 2)
            #expect(bad.stderr.contains("cases.jsonl:21: model: missing required field"), "\(bad.stderr)")
            #expect(try h.run(["gate", "nope"]).code == 2)
        }
    }

    @Test func gateFailsOnARegressionAndPassesOnAnImprovement() async throws {
        try await onTestThreads {
            let h = try Self.harness()
            // Baseline: 1 leak in 20 (no-pii 0.95).
            try Self.writeCases(h, Self.cases(leaks: 1))
            #expect(try h.run(["golden", "lock", "support"]).code == 0)
            #expect(try h.run(["gate", "support", "--write-baseline"]).code == 0)
            let baseline = try String(contentsOfFile: h.root + "/golden/support/baseline.json", encoding: .utf8)
            #expect(baseline.contains("check:no-pii"))

            // 8 leaks in 20 (0.60): far below the baseline's lower 95% bound (0.764 for 19/20).
            try Self.writeCases(h, Self.cases(leaks: 8))
            #expect(try h.run(["golden", "lock", "support"]).code == 0)
            let worse = try h.run(["gate", "support"])
            #expect(worse.code == 1, "\(worse.stdout)\(worse.stderr)")
            #expect(worse.stdout.contains("REGRESSED"))
            #expect(worse.stdout.contains("gate FAILED"))
            let json = try h.run(["gate", "support", "--json"])
            #expect(json.code == 1)
            let report = json.json
            #expect(report["passed"] as? Bool == false)
            #expect(report["regressed"] as? [String] == ["check:no-pii"])
            let rows = try #require(report["metrics"] as? [[String: Any]])
            let pii = try #require(rows.first { $0["metric"] as? String == "check:no-pii" })
            #expect(pii["verdict"] as? String == "regressed")
            #expect(pii["n"] as? Int == 20)
            #expect(abs((pii["baseline"] as? Double ?? 0) - 0.95) < 1e-9)
            #expect(abs((pii["current"] as? Double ?? 0) - 0.60) < 1e-9)
            for key in ["delta", "tolerance", "ci_low", "ci_high", "tolerance_source"] { #expect(pii[key] != nil, "\(key)") }
            for key in ["set", "cases", "baseline", "warnings", "judges", "judge_errors", "calibration"] { #expect(report[key] != nil, "\(key)") }

            // 2 leaks in 20: within tolerance of 19/20, so it passes; a tolerance of 0 makes it fail.
            try Self.writeCases(h, Self.cases(leaks: 2))
            #expect(try h.run(["golden", "lock", "support"]).code == 0)
            #expect(try h.run(["gate", "support"]).code == 0)
            #expect(try h.run(["gate", "support", "--tolerance", "check:no-pii=0"]).code == 1)

            // No leaks: an improvement, exit 0.
            try Self.writeCases(h, Self.cases(leaks: 0))
            #expect(try h.run(["golden", "lock", "support"]).code == 0)
            let better = try h.run(["gate", "support", "--json"])
            #expect(better.code == 0, "\(better.stdout)\(better.stderr)")
            #expect(better.json["passed"] as? Bool == true)
            let improved = (better.json["metrics"] as? [[String: Any]])?.first { $0["metric"] as? String == "check:no-pii" }
            #expect(improved?["verdict"] as? String == "ok" || improved?["verdict"] as? String == "improved")
        }
    }

    @Test func calibrateReportsKappaAgainstTheLabels() async throws {
        try await onTestThreads {
            // The stub grades 5 when the answer says "on time", else 1.
            let stub = try await StubJudgeServer.start { prompt in
                prompt.contains("on time") ? #"{"score": 5, "reason": "ok"}"# : #"{"score": 1, "reason": "bad"}"#
            }
            defer { Task { try? await stub.stop() } }
            let h = try Self.harness(endpoint: stub.baseURL)
            // Human pass & judge pass 4, pass/fail 1, fail/pass 2, fail/fail 3: kappa = 0.4 (see CalibrationTests).
            let good = "Order shipped on time.", bad = "Order status unknown."
            let plan: [(String, Bool)] = [
                (good, true), (good, true), (good, true), (good, true), (bad, true),
                (good, false), (good, false), (bad, false), (bad, false), (bad, false),
            ]
            let text = plan.enumerated().map { n, item in
                Self.line(n, output: item.0, label: #"{"pass":\#(item.1)}"#)
            }.joined()
            try Self.writeCases(h, text)
            #expect(try h.run(["golden", "lock", "support"]).code == 0)
            let env = ["EVALD_TEST_GOLDEN_KEY": Self.apiKey]
            let result = try h.run(["calibrate", "support", "--json", "--judge-timeout", "60s"], environment: env)
            #expect(result.code == 1, "kappa 0.4 < min_kappa 0.6: \(result.stdout)\(result.stderr)")
            let judges = try #require(result.json["judges"] as? [[String: Any]])
            let judge = try #require(judges.first)
            #expect(judge["judge"] as? String == "helpfulness")
            #expect(judge["n"] as? Int == 10)
            #expect(abs((judge["kappa"] as? Double ?? -9) - 0.4) < 1e-9)
            #expect(abs((judge["accuracy"] as? Double ?? -9) - 0.7) < 1e-9)
            #expect(judge["flagged"] as? Bool == true)
            let confusion = try #require(judge["confusion"] as? [String: Int])
            #expect(confusion == ["human_pass_judge_pass": 4, "human_pass_judge_fail": 1, "human_fail_judge_pass": 2, "human_fail_judge_fail": 3])
            #expect(result.json["flagged"] as? [String] == ["helpfulness"])
            #expect(stub.prompts.count == 10)
            #expect(!result.stdout.contains(Self.apiKey) && !result.stderr.contains(Self.apiKey))

            // The gate shows the judge's metrics and the calibration summary.
            #expect(try h.run(["gate", "support", "--write-baseline"], environment: env).code == 0)
            let gate = try h.run(["gate", "support"], environment: env)
            #expect(gate.code == 0, "\(gate.stdout)\(gate.stderr)")
            #expect(gate.stdout.contains("judge:helpfulness:mean_score"))
            #expect(gate.stdout.contains("FLAGGED"))
        }
    }

    @Test func calibrateWithoutAnEndpointHasNothingToDo() async throws {
        try await onTestThreads {
            let h = try Self.harness()
            try Self.writeCases(h, (0..<4).map { Self.line($0, label: #"{"pass":true,"score":5}"#) }.joined())
            #expect(try h.run(["golden", "lock", "support"]).code == 0)
            let result = try h.run(["calibrate", "support"])
            #expect(result.code == 0, "\(result.stderr)")
            #expect(result.stdout.contains("nothing to calibrate"))
            #expect(result.stdout.contains("judges skipped"))
        }
    }
}
