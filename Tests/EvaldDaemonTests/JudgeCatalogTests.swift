import EvaldCore
import EvaldDaemon
import EvaldReports
import Foundation
import Testing

@Suite struct JudgeCatalogTests {
    static let endpoints: [String: EndpointConfig] = {
        let yaml = """
            spool: {dir: spool}
            endpoints:
              default: {kind: openai, base_url: "http://127.0.0.1:8080/v1", model: gpt-4o}
              cheap: {kind: openai, base_url: "http://127.0.0.1:8080/v1", model: gpt-4o-mini}
            """
        return try! EvaldConfig.parse(yaml: yaml, path: "/tmp/evald.yaml", environment: [:]).0.endpoints
    }()

    static func rubric(_ name: String, _ extra: [String] = [], body: String = "Answer:\n{{output}}\nReply {\"score\": <1-5>}\n") -> String {
        (["---", "name: \(name)", "version: 1", "scale: {min: 1, max: 5}"] + extra + ["---"]).joined(separator: "\n") + "\n" + body
    }

    func directory(_ files: [String: String]) throws -> String {
        let dir = NSTemporaryDirectory() + "evald-judges-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        return dir
    }

    @Test func loadsGoodRubricsAndReportsEachBadOneWithFileLineAndKey() throws {
        let dir = try directory([
            "a-helpfulness.md": Self.rubric("helpfulness", ["applies_to: [\"support-*\", \"refunds-*\"]"]),
            "b-safety.md": Self.rubric("safety", ["endpoint: cheap"]).replacingOccurrences(of: "scale: {min: 1, max: 5}", with: "scale: pass_fail")
                .replacingOccurrences(of: "\"score\": <1-5>", with: "\"pass\": true"),
            "c-bad-template.md": Self.rubric("tone", body: "Answer:\n{{output}}\n{{#reference}}\nReply {\"score\": 1}\n"),
            "d-unknown-key.md": Self.rubric("concise", ["pass_a: 3"]),
            "e-duplicate.md": Self.rubric("helpfulness"),
            "f-unknown-endpoint.md": Self.rubric("faithfulness", ["applies_to: summarize-ticket", "endpoint: prod"]),
            "README.md": "# Judges\nThese files are rubrics.\n",
            "notes.txt": "not a rubric",
            ".draft.md": "---\nbroken",
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (catalog, problems) = JudgeCatalog.load(directory: dir, endpoints: Self.endpoints, defaultEndpoint: "default")

        #expect(catalog.rubrics.map(\.name) == ["helpfulness", "safety"])
        #expect(catalog.rubrics.map(\.sourcePath) == [dir + "/a-helpfulness.md", dir + "/b-safety.md"])
        let lines = problems.map(\.description)
        #expect(problems.count == 4, "\(lines)")
        // The template starts on line 6; {{#reference}} is on its line 3.
        #expect(lines.contains("\(dir)/c-bad-template.md:8: template: {{#reference}} is never closed (add {{/reference}})"), "\(lines)")
        #expect(lines.contains { $0.hasPrefix("\(dir)/d-unknown-key.md:5: pass_a: unknown key (did you mean \"pass_at\"?)") }, "\(lines)")
        #expect(
            lines.contains { $0.hasPrefix("\(dir)/e-duplicate.md:2: name: \"helpfulness\" is already the name of \(dir)/a-helpfulness.md") },
            "\(lines)")
        #expect(
            lines.contains("\(dir)/f-unknown-endpoint.md:6: endpoint: \"prod\" is not defined under endpoints in the config (defined: cheap, default)"),
            "\(lines)")

        #expect(catalog.rubrics(forRoute: "support-chat").map(\.name) == ["helpfulness", "safety"])
        #expect(catalog.rubrics(forRoute: "extract-order").map(\.name) == ["safety"])
        #expect(catalog.rubrics(forRoute: nil).map(\.name) == ["safety"])
    }

    @Test func endpointComesFromTheDefaultWhenTheRubricNamesNone() throws {
        let dir = try directory(["h.md": Self.rubric("helpfulness")])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let withDefault = JudgeCatalog.load(directory: dir, endpoints: Self.endpoints, defaultEndpoint: "default")
        #expect(withDefault.problems.isEmpty)
        #expect(JudgeCatalog.endpointName(of: withDefault.catalog.rubrics[0], defaultEndpoint: "default") == "default")

        let withoutDefault = JudgeCatalog.load(directory: dir, endpoints: Self.endpoints, defaultEndpoint: nil)
        #expect(withoutDefault.catalog.rubrics.isEmpty)
        #expect(withoutDefault.problems.map(\.key) == ["endpoint"])
        #expect(withoutDefault.problems.first?.message.contains("judge.default_endpoint") == true)

        // No endpoint at all: judges are not enabled yet (the example), which is not a problem;
        // the daemon skips them and `evald status` says how to enable them.
        let noEndpoints = JudgeCatalog.load(directory: dir, endpoints: [:], defaultEndpoint: nil)
        #expect(noEndpoints.problems.isEmpty)
        #expect(noEndpoints.catalog.rubrics.map(\.name) == ["helpfulness"])
    }

    @Test func missingDirectoryIsAnEmptyCatalogAndAFileIsAProblem() throws {
        let missing = JudgeCatalog.load(directory: "/nonexistent/evald-judges", endpoints: Self.endpoints, defaultEndpoint: "default")
        #expect(missing.catalog.rubrics.isEmpty && missing.problems.isEmpty)

        let dir = try directory(["judges": "not a folder"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = JudgeCatalog.load(directory: dir + "/judges", endpoints: Self.endpoints, defaultEndpoint: "default")
        #expect(file.problems.count == 1)
        #expect(file.problems.first?.message.contains("not a directory") == true)
    }

    @Test func shippedReferenceJudgesLoad() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let (catalog, problems) = JudgeCatalog.load(directory: root + "/reference-judges", endpoints: Self.endpoints, defaultEndpoint: "default")
        #expect(problems.isEmpty, "\(problems)")
        #expect(catalog.rubrics.map(\.name) == ["faithfulness", "helpfulness", "instruction-following", "tone-safety"])
        #expect(catalog.rubrics(forRoute: "support-chat").map(\.name) == ["helpfulness", "instruction-following", "tone-safety"])
        #expect(catalog.rubrics(forRoute: "summarize-ticket").map(\.name) == ["faithfulness", "instruction-following", "tone-safety"])
    }
}
