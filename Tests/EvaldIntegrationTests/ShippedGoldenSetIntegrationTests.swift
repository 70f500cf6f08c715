import EvaldTesting
import Foundation
import Testing

/// The shipped golden set (`golden/support`), its baseline and the shipped judges, as the README
/// runs them. The baseline holds the checks' metrics: the one judge model this repository can run
/// offline (SmolLM2-135M, Benchmarks/run_local_judge.py) ends most judge calls as judge errors,
/// and `--write-baseline` refuses to record such a judge.
@Suite(.serialized) struct ShippedGoldenSetIntegrationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The shipped judges' metrics: a pass rate each, and a mean score for the numeric ones.
    static let judgeMetrics = [
        "judge:faithfulness", "judge:faithfulness:mean_score", "judge:helpfulness", "judge:helpfulness:mean_score",
        "judge:instruction-following", "judge:instruction-following:mean_score", "judge:tone-safety",
    ]

    /// A copy of examples/ (its config, with a judge endpoint added, and its schemas),
    /// reference-judges/ and golden/support/: the lock names judge and schema files relative to
    /// the config's folder, so the config sits where examples/evald.yaml does. Returns the config.
    static func tree(_ h: EvaldHarness, judge stub: StubJudgeServer) throws -> String {
        let fm = FileManager.default
        let tree = h.root + "/tree"
        try fm.createDirectory(atPath: tree + "/examples", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: tree + "/golden", withIntermediateDirectories: true)
        try fm.copyItem(atPath: root + "/reference-judges", toPath: tree + "/reference-judges")
        try fm.copyItem(atPath: root + "/examples/schemas", toPath: tree + "/examples/schemas")
        try fm.copyItem(atPath: root + "/golden/support", toPath: tree + "/golden/support")
        let config = try String(contentsOfFile: root + "/examples/evald.yaml", encoding: .utf8)
        try (config + "\nendpoints:\n  default: {kind: openai, base_url: \"\(stub.baseURL)/v1\", model: judge, timeout: 60s, max_retries: 0}\n")
            .write(toFile: tree + "/examples/evald.yaml", atomically: true, encoding: .utf8)
        return tree + "/examples/evald.yaml"
    }

    /// As in the README: the example config has no judge endpoint, so the judges are skipped with
    /// a warning and the gate passes on the checks.
    @Test func withoutAnEndpointTheJudgesAreSkippedWithAWarningAndTheGatePasses() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            let gate = try h.run(["gate", "support", "--config", Self.root + "/examples/evald.yaml"], config: false)
            #expect(gate.code == 0, "\(gate.stdout)\(gate.stderr)")
            #expect(gate.stdout.contains("judges skipped (not failing): faithfulness, helpfulness, instruction-following, tone-safety"), "\(gate.stdout)")
            #expect(!gate.stdout.contains("judge:"), "no judge ran, and the baseline has none: \(gate.stdout)")
            #expect(gate.stdout.contains("gate passed: no metric dropped beyond its tolerance (14 metrics)"), "\(gate.stdout)")
        }
    }

    /// With an endpoint that judges well, each judge's metrics are shown, and a warning says they
    /// are not in the baseline yet; the gate passes on the checks.
    @Test func withAnEndpointTheJudgesAreShownAndNotGatedUntilTheBaselineHasThem() async throws {
        try await onTestThreads {
            // Both keys: the numeric judges read "score", tone-safety reads "pass".
            let stub = try await StubJudgeServer.start { _ in #"{"score": 5, "pass": true, "reason": "fine"}"# }
            defer { Task { try? await stub.stop() } }
            let h = try EvaldHarness()
            let config = try Self.tree(h, judge: stub)
            let gate = try h.run(["gate", "support", "--json", "--config", config], config: false)
            #expect(gate.code == 0, "\(gate.stdout)\(gate.stderr)")
            let rows = try #require(gate.json["metrics"] as? [[String: Any]])
            let warnings = gate.json["warnings"] as? [String] ?? []
            for name in Self.judgeMetrics {
                let row = try #require(rows.first { $0["metric"] as? String == name }, "\(name) not in the gate")
                #expect(row["verdict"] as? String == "new", "\(row)")
                #expect((row["current"] as? Double).map { $0 > 0 } == true, "\(row)")
                #expect(warnings.contains { $0.hasPrefix("warning: \(name) is not in the baseline") }, "\(warnings)")
            }
            #expect(gate.json["judge_errors"] as? Int == 0)
        }
    }

    /// Judges whose cases end mostly as judge errors fail the gate, whatever the checks say.
    @Test func judgesThatMostlyErrFailTheGate() async throws {
        try await onTestThreads {
            let stub = try await StubJudgeServer.start { _ in "I would say it is a good answer." }
            defer { Task { try? await stub.stop() } }
            let h = try EvaldHarness()
            let config = try Self.tree(h, judge: stub)
            let gate = try h.run(["gate", "support", "--config", config], config: false)
            #expect(gate.code == 1, "\(gate.stdout)\(gate.stderr)")
            #expect(gate.stdout.contains("gate FAILED: judge faithfulness: 44 of 44 cases ended as judge errors (no_json 44)"), "\(gate.stdout)")
            #expect(gate.stdout.contains("gate FAILED: judge tone-safety: 63 of 63 cases ended as judge errors (no_json 63)"), "\(gate.stdout)")
            #expect(gate.stdout.contains("judge errors (no_json 44; not scored; first: no_json:"), "the judge line counts the errors by kind: \(gate.stdout)")
            let json = try h.run(["gate", "support", "--json", "--config", config], config: false)
            #expect(json.code == 1)
            #expect((json.json["judge_errors_by_kind"] as? [String: [String: Int]])?["faithfulness"] == ["no_json": 44], "\(json.stdout)")
        }
    }
}
