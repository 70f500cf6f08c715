import EvaldTesting
import Foundation
import Testing

/// `evald check-config` validates the rubrics of `judge.dir` as an operator runs it.
@Suite struct JudgeCheckConfigIntegrationTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static let endpoints = """
        endpoints:
          default: {kind: openai, base_url: "http://127.0.0.1:11434/v1", model: llama3.1}
        """

    @Test func shippedJudgesAreListedOnePerLine() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(config: Self.endpoints + "\njudge:\n  dir: \(Self.repositoryRoot)/reference-judges\n")
            let result = try h.run(["check-config"])
            #expect(result.code == 0, "\(result.stderr)")
            #expect(result.stdout.contains(", 4 judges, "))
            let judgeLines = result.stdout.split(separator: "\n").filter { $0.contains(": judge ") }
            #expect(judgeLines.count == 4, "\(result.stdout)")
            #expect(result.stdout.contains("/reference-judges/helpfulness.md: judge helpfulness@1+"))
            #expect(result.stdout.contains("applies_to [support-*, refunds-*], endpoint default, scale {min: 1, max: 5}, pass_at 4: rendered OK ("))
            #expect(result.stdout.contains("scale pass_fail: rendered OK ("))
        }
    }

    @Test func badJudgesExitTwoNamingFileLineAndKey() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(config: Self.endpoints + "\njudge:\n  dir: judges\n")
            try FileManager.default.createDirectory(atPath: h.root + "/judges", withIntermediateDirectories: true)
            try "---\nname: helpfulness\nversion: 1\nscale: {min: 1, max: 5}\n---\nAnswer: {{ouput}}\n{\"score\": 1}\n"
                .write(toFile: h.root + "/judges/typo.md", atomically: true, encoding: .utf8)
            try "---\nname: safety\nversion: 1\nscale: pass_fail\nendpoint: prod\n---\n{{output}} {\"pass\": true}\n"
                .write(toFile: h.root + "/judges/safety.md", atomically: true, encoding: .utf8)
            let result = try h.run(["check-config"])
            #expect(result.code == 2)
            #expect(
                result.stderr.contains("\(h.root)/judges/typo.md:6: template: unknown variable \"ouput\" in {{ouput}} (did you mean {{output}}?)"),
                "\(result.stderr)")
            #expect(result.stderr.contains("\(h.root)/judges/safety.md:5: endpoint: \"prod\" is not defined under endpoints"), "\(result.stderr)")
            #expect(result.stderr.contains("2 errors"))
        }
    }

    @Test func aMissingJudgeFolderIsAWarningOnlyWhenEndpointsAreConfigured() async throws {
        try await onTestThreads {
            let without = try EvaldHarness()
            let quiet = try without.run(["check-config"])
            #expect(quiet.code == 0)
            #expect(!quiet.stderr.contains("judge.dir"))
            #expect(quiet.stdout.contains(", 0 judges, "))

            let with = try EvaldHarness(config: Self.endpoints)
            let warned = try with.run(["check-config"])
            #expect(warned.code == 0)
            #expect(warned.stderr.contains("warning: judge.dir: "), "\(warned.stderr)")
        }
    }
}
