import EvaldCore
import Foundation
import Testing

@Suite struct GoldenLockTests {
    static let locked = GoldenLock(
        set: "support",
        files: [
            "cases.jsonl": String(repeating: "a", count: 64),
            "judges/helpfulness.md": String(repeating: "b", count: 64),
            "schemas/order.json": String(repeating: "c", count: 64),
        ], lockedAt: Date(timeIntervalSince1970: 1_764_000_000))

    @Test func unchangedFilesVerify() {
        #expect(Self.locked.verify(current: Self.locked.files).isEmpty)
    }

    @Test func aChangedCasesFileIsNamed() {
        var current = Self.locked.files
        current["cases.jsonl"] = String(repeating: "d", count: 64)
        let changes = Self.locked.verify(current: current)
        #expect(changes == [GoldenLockChange(kind: .changed, file: "cases.jsonl")])
        #expect(changes[0].description.hasPrefix("cases.jsonl changed"))
    }

    @Test func aChangedJudgeFileIsNamedAfterTheCases() {
        var current = Self.locked.files
        current["judges/helpfulness.md"] = String(repeating: "e", count: 64)
        current["cases.jsonl"] = String(repeating: "f", count: 64)
        #expect(
            Self.locked.verify(current: current) == [
                GoldenLockChange(kind: .changed, file: "cases.jsonl"),
                GoldenLockChange(kind: .changed, file: "judges/helpfulness.md"),
            ])
    }

    @Test func missingAndAddedFilesAreNamed() {
        var current = Self.locked.files
        current["schemas/order.json"] = nil
        current["judges/tone-safety.md"] = String(repeating: "1", count: 64)
        #expect(
            Self.locked.verify(current: current) == [
                GoldenLockChange(kind: .added, file: "judges/tone-safety.md"),
                GoldenLockChange(kind: .missing, file: "schemas/order.json"),
            ])
    }

    @Test func serializedLockParsesBackAndIsStable() throws {
        let text = Self.locked.serialized()
        let parsed = try GoldenLock.parse(Array(text.utf8), path: "golden.lock")
        #expect(parsed == Self.locked)
        #expect(parsed.serialized() == text)
        // Sorted keys, one file a line: a re-lock's diff shows exactly the files that changed.
        #expect(text.contains("\"cases.jsonl\": \"\(String(repeating: "a", count: 64))\""))
        #expect(text.components(separatedBy: "\n").filter { $0.contains(": \"") && $0.count > 64 }.count == 3)
    }

    @Test func aBrokenLockSaysHowToRewriteIt() {
        #expect(throws: GoldenLockError.self) { try GoldenLock.parse(Array("{\"version\": 1, \"files\": {\"cases.jsonl\": \"xyz\"}}".utf8), path: "g.lock") }
        do {
            _ = try GoldenLock.parse(Array("not json".utf8), path: "golden/s/golden.lock")
            Issue.record("parsed")
        } catch {
            #expect(error.description.hasPrefix("golden/s/golden.lock: is not valid JSON"))
            #expect(error.description.contains("evald golden lock"))
        }
    }

    @Test func sha256IsTheStandardDigest() {
        // echo -n abc | sha256sum
        #expect(GoldenLock.sha256(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func relativePathsAreThoseTheConfigUses() {
        #expect(GoldenLock.relativePath("/repo/examples/schemas/order.json", from: "/repo/examples") == "schemas/order.json")
        #expect(GoldenLock.relativePath("/repo/reference-judges/helpfulness.md", from: "/repo/examples") == "../reference-judges/helpfulness.md")
        #expect(GoldenLock.relativePath("/repo/examples/../judges/a.md", from: "/repo/examples/") == "../judges/a.md")
    }

    @Test func theSetUsesTheJudgesAndSchemasOfItsRoutes() throws {
        func rubric(_ name: String, _ appliesTo: String) throws -> JudgeRubric {
            let text =
                "---\nname: \(name)\nversion: 1\napplies_to: [\"\(appliesTo)\"]\nscale: pass_fail\n---\nGrade {{output}}\nReply with JSON only: {\"pass\": true|false, \"reason\": \"...\"}\n"
            return try JudgeRubric.parse(path: "/j/\(name).md", bytes: Array(text.utf8))
        }
        let rubrics = [try rubric("support", "support-*"), try rubric("other", "billing-*"), try rubric("all", "*")]
        let checks: [(glob: Glob, checks: [CheckConfig])] = [
            (Glob("extract-*"), [CheckConfig(name: "valid-order", kind: "json_schema", parameters: ["schema": .string("/c/order.json")])]),
            (Glob("refunds-*"), [CheckConfig(name: "tools", kind: "tool_calls", parameters: ["schemas": .map(["issue_refund": .string("/c/refund.json")])])]),
        ]
        let files = GoldenSetInputs.files(routes: ["support-chat", "extract-order"], rubrics: rubrics, checks: checks)
        #expect(files == ["/c/order.json", "/j/all.md", "/j/support.md"])
    }
}

@Suite struct GoldenCaseParserTests {
    static let good = #"{"trace_id":"t1","timestamp":"2026-11-28T10:00:00Z","route":"support-chat","model":"m","output":"hi","label":{"pass":true,"score":4}}"#

    @Test func casesGetTheirIdOrLineNumberAndLabel() {
        let text =
            Self.good + "\n\n# a comment\n" + #"{"id":"refund-1","trace_id":"t2","timestamp":1764000000,"model":"m","output":"x","metadata":{"k":"v"}}"# + "\n"
        let (cases, problems) = GoldenCaseParser.parse(Array(text.utf8), path: "cases.jsonl")
        #expect(problems.isEmpty)
        #expect(cases.map(\.id) == ["1", "refund-1"])
        #expect(cases[0].label == GoldenLabel(pass: true, score: 4))
        #expect(cases[1].label == nil)
        #expect(cases[1].line == 4)
        #expect(cases[1].metadata == ["k": "v"])
    }

    @Test func everyBadLineIsReportedWithPathLineAndKey() {
        let lines = [
            Self.good,
            "{not json",
            #"{"trace_id":"t3","timestamp":"2026-11-28T10:00:00Z","output":"x"}"#,
            #"{"trace_id":"t4","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x","label":{"pass":"yes"}}"#,
            #"{"trace_id":"t5","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x","label":{"passed":true}}"#,
            #"{"id":"1","trace_id":"t6","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x"}"#,
            #"{"trace_id":"t7","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x","label":{"score":"high"}}"#,
        ]
        let (cases, problems) = GoldenCaseParser.parse(Array(lines.joined(separator: "\n").utf8), path: "golden/s/cases.jsonl")
        #expect(cases.count == 1)
        #expect(problems.map(\.line) == [2, 3, 4, 5, 6, 7])
        #expect(problems.map(\.key) == ["json", "model", "label.pass", "label.passed", "id", "label.score"])
        #expect(problems[1].description == "golden/s/cases.jsonl:3: model: missing required field \"model\"")
    }
}
