import EvaldCore
import Foundation
import Testing

/// A rubric file with the given front matter lines and template.
private func rubricText(_ front: [String], _ body: String) -> String {
    "---\n" + front.joined(separator: "\n") + "\n---\n" + body
}

private let basicFront = ["name: helpfulness", "version: 3", "scale: {min: 1, max: 5}"]
private let basicBody = "Answer:\n{{output}}\nReply with JSON only: {\"score\": <1-5>, \"reason\": \"...\"}\n"

private func parse(_ text: String, path: String = "judges/h.md") throws(JudgeRubricError) -> JudgeRubric {
    try JudgeRubric.parse(path: path, bytes: Array(text.utf8))
}

private func parseError(_ text: String) -> JudgeRubricError? {
    do {
        _ = try parse(text)
        return nil
    } catch {
        return error
    }
}

private func variables(
    output: String = "Shipped.", reference: String = "", toolCalls: String = "[]",
    metadata: [String: String] = [:]
) -> JudgePromptVariables {
    JudgePromptVariables(
        inputText: "user: where is A-1?", lastUserMessage: "where is A-1?", output: output, reference: reference,
        route: "support-chat", model: "gpt-4o-mini", toolCalls: toolCalls, metadata: metadata)
}

@Suite struct JudgeRubricTests {
    @Test func parsesTheFrontMatterOfSpecFive() throws {
        let text = rubricText(
            [
                "name: helpfulness", "version: 3", "applies_to: [\"support-*\", \"refunds-*\"]", "endpoint: default",
                "scale: {min: 1, max: 5}", "pass_at: 4", "temperature: 0.2", "max_output_tokens: 250",
                "description: grades answers",
            ], basicBody)
        let rubric = try parse(text)
        #expect(rubric.name == "helpfulness")
        #expect(rubric.version == "3")
        #expect(rubric.appliesToPatterns == ["support-*", "refunds-*"])
        #expect(rubric.endpoint == "default")
        #expect(rubric.scale == .numeric(min: 1, max: 5))
        #expect(rubric.passAt == 4)
        #expect(rubric.temperature == 0.2)
        #expect(rubric.maxOutputTokens == 250)
        #expect(rubric.summary == "grades answers")
        #expect(rubric.sourcePath == "judges/h.md")
        #expect(rubric.keyLines["endpoint"] == 5)
        #expect(rubric.templateLine == 12)
        #expect(rubric.identity == "helpfulness@3+\(rubric.contentHash)")
    }

    @Test func minPassRateIsAFloorBetweenZeroAndOne() throws {
        #expect(try parse(rubricText(basicFront + ["min_pass_rate: 0.9"], basicBody)).minPassRate == 0.9)
        #expect(try parse(rubricText(basicFront, basicBody)).minPassRate == nil)
        let error = try #require(parseError(rubricText(basicFront + ["min_pass_rate: 90"], basicBody)))
        #expect(error.key == "min_pass_rate" && error.line == 5)
    }

    @Test func defaults() throws {
        let rubric = try parse(rubricText(basicFront, basicBody))
        #expect(rubric.appliesToPatterns == ["*"])
        #expect(rubric.endpoint == nil)
        #expect(rubric.temperature == 0)
        #expect(rubric.maxOutputTokens == 300)
        #expect(rubric.passAt == 4)
        let passFail = try parse(rubricText(["name: safe", "version: 1", "scale: pass_fail"], "{{output}} {\"pass\": true}"))
        #expect(passFail.scale == .passFail)
        #expect(passFail.passAt == 1)
        #expect(passFail.passes(score: 1) && !passFail.passes(score: 0))
    }

    @Test(arguments: [
        (1, 5, 4.0), (0, 10, 8.0), (0, 4, 3.0), (1, 10, 8.0), (0, 1, 1.0), (1, 3, 3.0), (0, 100, 75.0),
    ])
    func defaultPassAtIsThreeQuartersUpTheScale(min: Int, max: Int, expected: Double) throws {
        let rubric = try parse(rubricText(["name: j", "version: 1", "scale: {min: \(min), max: \(max)}"], basicBody))
        #expect(rubric.passAt == expected)
        #expect(rubric.passes(score: expected))
        #expect(!rubric.passes(score: expected - 0.5))
    }

    @Test func identityHashCoversEveryByteOfTheFile() throws {
        let text = "---\nname: t\nversion: 1\nscale: pass_fail\n---\n{{output}} {\"pass\": true}\n"
        let rubric = try parse(text)
        // sha256 of the text above, first 8 hex digits (computed with hashlib).
        #expect(rubric.contentHash == "2555282a")
        #expect(rubric.identity == "t@1+2555282a")
        #expect(try parse(text).identity == rubric.identity)
        let editedPrompt = try parse(text.replacingOccurrences(of: "{{output}} ", with: "{{output}}  "))
        let editedFront = try parse(text.replacingOccurrences(of: "scale: pass_fail", with: "scale: pass_fail\ntemperature: 0"))
        #expect(Set([rubric.identity, editedPrompt.identity, editedFront.identity]).count == 3)
    }

    @Test(arguments: [("version: 3", "3"), ("version: \"2026-11\"", "2026-11"), ("version: 1.2", "1.2"), ("version: v2", "v2")])
    func versionIsAnIntOrAString(line: String, expected: String) throws {
        let rubric = try parse(rubricText(["name: j", line, "scale: {min: 1, max: 5}"], basicBody))
        #expect(rubric.version == expected)
    }

    @Test func appliesToOneGlobOrAList() throws {
        let one = try parse(rubricText(basicFront + ["applies_to: \"support-*\""], basicBody))
        let list = try parse(rubricText(basicFront + ["applies_to:", "  - support-*", "  - refunds-?ssist"], basicBody))
        let all = try parse(rubricText(basicFront, basicBody))
        let cases: [(String?, Bool, Bool, Bool)] = [
            ("support-chat", true, true, true), ("refunds-assist", false, true, true), ("extract-order", false, false, true),
            (nil, false, false, true),
        ]
        for (route, oneApplies, listApplies, allApplies) in cases {
            #expect(one.applies(toRoute: route) == oneApplies, "\(route ?? "nil")")
            #expect(list.applies(toRoute: route) == listApplies, "\(route ?? "nil")")
            #expect(all.applies(toRoute: route) == allApplies, "\(route ?? "nil")")
        }
    }

    /// Front matter problems: (front matter lines, line in the file, key, part of the message).
    @Test(arguments: [
        (["name: j", "version: 1", "scale: {min: 1, max: 5}", "pass_a: 3"], 5, "pass_a", "did you mean \"pass_at\""),
        (["version: 1", "scale: {min: 1, max: 5}"], 1, "name", "is required"),
        (["name: j", "scale: {min: 1, max: 5}"], 1, "version", "is required"),
        (["name: j", "version: 1"], 1, "scale", "is required"),
        (["name: Helpful Ness", "version: 1", "scale: {min: 1, max: 5}"], 2, "name", "is not a judge name"),
        (["name: j", "version: one two", "scale: {min: 1, max: 5}"], 3, "version", "is not a version"),
        (["name: j", "version: 1", "scale: {min: 5, max: 1}"], 4, "scale", "min 5 must be less than max 1"),
        (["name: j", "version: 1", "scale: {min: 1.5, max: 5}"], 4, "scale.min", "not a whole number"),
        (["name: j", "version: 1", "scale: {min: 1, max: 5, step: 1}"], 4, "scale.step", "unknown key"),
        (["name: j", "version: 1", "scale: stars"], 4, "scale", "or pass_fail"),
        (["name: j", "version: 1", "scale: {max: 5}"], 4, "scale", "needs both min and max"),
        (["name: j", "version: 1", "scale: {min: 1, max: 5}", "pass_at: 9"], 5, "pass_at", "at most max 5"),
        (["name: j", "version: 1", "scale: {min: 1, max: 5}", "pass_at: 1"], 5, "pass_at", "above min 1"),
        (["name: j", "version: 1", "scale: {min: 1, max: 5}", "pass_at: high"], 5, "pass_at", "not a number"),
        (["name: j", "version: 1", "scale: pass_fail", "pass_at: 1"], 5, "pass_at", "does not apply to scale pass_fail"),
        (["name: j", "version: 1", "scale: {min: 1, max: 5}", "temperature: 3"], 5, "temperature", "out of range 0...2"),
        (["name: j", "version: 1", "scale: {min: 1, max: 5}", "max_output_tokens: 5"], 5, "max_output_tokens", "from 16"),
        (["name: j", "version: 1", "scale: {min: 1, max: 5}", "applies_to: []"], 5, "applies_to", "matches no route"),
        (["name: j", "version: 1", "scale: {min: 1, max: 5}", "applies_to: {support: 1}"], 5, "applies_to", "route glob"),
        (["name: j", "version: 1", "scale: {min: 1, max: 5}", "endpoint: [a, b]"], 5, "endpoint", "single value"),
        (["name: j", "version: 1", "name: k", "scale: {min: 1, max: 5}"], 2, "name", "given twice"),
    ])
    func frontMatterProblemsNameLineAndKey(front: [String], line: Int, key: String, message: String) {
        let error = parseError(rubricText(front, basicBody))
        #expect(error?.path == "judges/h.md")
        #expect(error?.line == line, "\(error?.description ?? "no error")")
        #expect(error?.key == key, "\(error?.description ?? "no error")")
        #expect(error?.message.contains(message) == true, "\(error?.description ?? "no error")")
        #expect(error?.description.hasPrefix("judges/h.md:\(line): \(key): ") == true)
    }

    @Test func fileShapeProblems() {
        #expect(parseError("Grade this: {{output}}\n")?.description.hasPrefix("judges/h.md:1: a rubric starts with YAML front matter") == true)
        #expect(parseError("---\nname: j\nversion: 1\n{{output}}\n")?.message.contains("never closed") == true)
        let yaml = parseError("---\nname: j\nversion: [1\nscale: pass_fail\n---\n{{output}} \"pass\"\n")
        #expect(yaml?.message.contains("not valid YAML") == true)
        #expect(yaml?.line.map { $0 >= 3 } == true, "\(yaml?.description ?? "")")
        #expect(parseError("---\n---\n{{output}}\n")?.message.contains("mapping") == true)
        #expect(parseError(rubricText(basicFront, "  \n"))?.message.contains("empty") == true)
    }

    @Test func notUTF8IsAnError() {
        #expect(throws: JudgeRubricError(path: "x.md", line: nil, key: nil, message: "is not UTF-8 text")) {
            try JudgeRubric.parse(path: "x.md", bytes: [0x2D, 0x2D, 0x2D, 0x0A, 0xFF, 0xFE])
        }
    }

    @Test func windowsLineEndingsAndByteOrderMark() throws {
        let text = "\u{FEFF}" + rubricText(basicFront, basicBody).replacingOccurrences(of: "\n", with: "\r\n")
        let rubric = try parse(text)
        #expect(rubric.name == "helpfulness")
        #expect(try rubric.render(variables()).hasPrefix("Answer:\nShipped.\n"))
    }

    /// Template problems, located by the line of the FILE (the 5 front matter lines counted:
    /// the template starts on line 6).
    @Test(arguments: [
        ("Answer:\n{{output}}\nReference: {{ouput}}\n{\"score\": 1}", 8, "did you mean {{output}}?"),
        ("Answer:\n{{output}}\n{{#reference}}\nref {{reference}}\n{\"score\": 1}", 8, "{{#reference}} is never closed"),
        ("{{output}}\n{{#reference}}\n{{/output}}\n{\"score\": 1}", 8, "does not close {{#reference}} opened on line 7"),
        ("{{output}}\n{{/reference}}\n{\"score\": 1}", 7, "never opened"),
        ("Answer:\n\n{{output\n{\"score\": 1}", 8, "never closed with \"}}\""),
        ("{{output}}\n{{> footer}}\n{\"score\": 1}", 7, "partials and blocks"),
        ("{{output}}\n{{uppercased(route)}}\n{\"score\": 1}", 7, "transforms"),
        ("{{output}}\n{{metadata}}\n{\"score\": 1}", 7, "metadata.KEY"),
        ("{{output}}\n{{metadata.a.b}}\n{\"score\": 1}", 7, "cannot be a metadata key"),
        ("{{output}}\n{{.}}\n{\"score\": 1}", 7, "outside a section"),
        ("{{output}}\n{{}}\n{\"score\": 1}", 7, "names no variable"),
        ("{{output}}\n{{% CONTENT_TYPE: HTML }}\n{\"score\": 1}", 7, "plain text"),
        ("Route {{route}} on {{model}}\n{\"score\": 1}", 6, "would not see the trace"),
        ("Grade:\n{{output}}\nReply {\"grade\": 1}", 6, "never asks for the reply {\"score\""),
        // swift-mustache's own parser as the backstop: a name it cannot read, inside {{#metadata}}.
        ("{{output}}\n{{#metadata}}\n{{request@id}}\n{{/metadata}}\n{\"score\": 1}", 8, "not a valid Mustache template"),
    ])
    func templateProblemsNameTheFileLine(body: String, line: Int, message: String) {
        let error = parseError(rubricText(basicFront, body))
        #expect(error?.line == line, "\(error?.description ?? "no error")")
        #expect(error?.key == "template")
        #expect(error?.message.contains(message) == true, "\(error?.description ?? "no error")")
    }

    @Test func passFailPromptMustAskForPass() {
        let error = parseError(rubricText(["name: j", "version: 1", "scale: pass_fail"], "{{output}}\nReply {\"score\": 1}"))
        #expect(error?.message.contains(#"{"pass": true|false"#) == true, "\(error?.description ?? "no error")")
    }

    @Test func knownVariablesInSectionsAndSetDelimitersAreAccepted() throws {
        let body = """
            {{! a comment }}
            {{#reference}}Reference: {{reference}}{{/reference}}{{^reference}}no reference{{/reference}}
            {{#metadata}}{{channel}}{{/metadata}} {{metadata.request_id}} {{{output}}} {{&route}}
            {{=<% %>=}}<%output%> {"score": 1}

            """
        let rubric = try parse(rubricText(basicFront, body))
        let prompt = try rubric.render(variables(output: "A&B", metadata: ["channel": "web", "request_id": "req-1"]))
        #expect(prompt == "no reference\nweb req-1 A&B support-chat\nA&B {\"score\": 1}\n")
    }

    @Test func valuesAreNotHTMLEscaped() throws {
        let rubric = try parse(rubricText(basicFront, "{{output}}|{{last_user_message}}|{{tool_calls}} \"score\""))
        let output = #"<b>Tom & "Jerry"</b> it's 5 > 3"#
        let prompt = try rubric.render(variables(output: output, toolCalls: #"[{"name":"a","arguments":{"q":"<&>"}}]"#))
        #expect(prompt == #"<b>Tom & "Jerry"</b> it's 5 > 3|where is A-1?|[{"name":"a","arguments":{"q":"<&>"}}] "score""#)
    }

    @Test func metadataKeysResolveAndAbsentOnesRenderEmpty() throws {
        let rubric = try parse(rubricText(basicFront, "[{{metadata.request_id}}][{{metadata.missing}}] {{output}} \"score\""))
        #expect(try rubric.render(variables(metadata: ["request_id": "req-77"])) == "[req-77][] Shipped. \"score\"")
    }

    @Test func emptyValuesAreFalseInSections() throws {
        let body =
            "{{output}}\n{{#reference}}\nReference: {{reference}}\n{{/reference}}\n{{#tool_calls}}\nTools: {{tool_calls}}\n{{/tool_calls}}\n{{^tool_calls}}\nNo tools: {{tool_calls}}\n{{/tool_calls}}\n\"score\"\n"
        let rubric = try parse(rubricText(basicFront, body))
        #expect(try rubric.render(variables()) == "Shipped.\nNo tools: []\n\"score\"\n")
        let full = try rubric.render(variables(reference: "Shipped Monday.", toolCalls: #"[{"name":"lookup_order","arguments":{}}]"#))
        #expect(full == "Shipped.\nReference: Shipped Monday.\nTools: [{\"name\":\"lookup_order\",\"arguments\":{}}]\n\"score\"\n")
    }

    @Test func variablesFromARecord() {
        var trace = TraceRecord(recordID: "r", traceID: "r", timestamp: Date(timeIntervalSince1970: 0), model: "gpt-4o")
        trace.route = "refunds-assist"
        trace.input = [
            .init(role: "system", content: "Be brief."), .init(role: "user", content: "Refund A-1?\nIt broke."),
            .init(role: "assistant", content: "Which item?"), .init(role: "user", content: "The tent."),
        ]
        trace.output = "Approved."
        trace.reference = "Approve."
        trace.toolCalls = [
            .init(name: "issue_refund", arguments: #"{"order_id": "A-1", "amount": 12.5}"#),
            .init(name: "lookup_order", arguments: "{'order_id': 'A-1'"),
        ]
        let v = JudgePromptVariables(record: trace, metadata: ["agent_id": "agt-7"])
        #expect(v.inputText == "system: Be brief.\nuser: Refund A-1?\nIt broke.\nassistant: Which item?\nuser: The tent.")
        #expect(v.lastUserMessage == "The tent.")
        #expect(v.output == "Approved." && v.reference == "Approve." && v.route == "refunds-assist" && v.model == "gpt-4o")
        // Valid arguments as JSON, invalid ones kept as the string the model wrote.
        #expect(
            v.toolCalls == #"[{"name":"issue_refund","arguments":{"order_id":"A-1","amount":12.5}},{"name":"lookup_order","arguments":"{'order_id': 'A-1'"}]"#)
        #expect(v.metadata == ["agent_id": "agt-7"])

        let bare = JudgePromptVariables(
            record: TraceRecord(recordID: "r", traceID: "r", timestamp: Date(timeIntervalSince1970: 0), model: "m"),
            metadata: [:])
        #expect(bare.inputText == "" && bare.lastUserMessage == "" && bare.output == "" && bare.reference == "" && bare.route == "")
        #expect(bare.toolCalls == "[]")
    }

    @Test func exampleHasEveryVariable() {
        let v = JudgePromptVariables.example
        for value in [v.inputText, v.lastUserMessage, v.output, v.reference, v.route, v.model, v.toolCalls] {
            #expect(!value.isEmpty)
        }
        #expect(v.toolCalls != "[]")
        #expect(!v.metadata.isEmpty)
        #expect(v.inputText.hasPrefix("system: "))
    }

    @Test func redactionLeavesNoEmailOfTheTraceInThePrompt() throws {
        var trace = TraceRecord(recordID: "r", traceID: "r", timestamp: Date(timeIntervalSince1970: 0), model: "gpt-4o-mini")
        trace.route = "support-chat"
        trace.input = [.init(role: "user", content: "I'm julia.romano@example.com, card 4111 1111 1111 1111. Where is A-55021?")]
        trace.output = "Hi Julia, I sent the details to julia.romano@example.com."
        trace.reference = "Reply to julia.romano@example.com"
        trace.toolCalls = [.init(name: "create_ticket", arguments: #"{"email": "julia.romano@example.com"}"#)]
        let metadata = ["contact": "julia.romano@example.com", "request_id": "req-77"]
        let body = """
            Grade the answer of the support assistant.
            {{input_text}}
            {{last_user_message}}
            {{output}}
            {{reference}}
            {{tool_calls}}
            {{metadata.contact}} {{metadata.request_id}} {{route}} {{model}}
            Reply with JSON only: {"score": <1-5>}
            """
        let rubric = try parse(rubricText(basicFront, body))
        let plain = try rubric.render(JudgePromptVariables(record: trace, metadata: metadata))
        #expect(plain.contains("julia.romano@example.com"))

        let prompt = try rubric.render(JudgePromptVariables(record: trace, metadata: metadata).redacted(by: PIIDetector()))
        #expect(!prompt.contains("julia.romano"))
        #expect(!prompt.contains("@example.com"))
        #expect(!prompt.contains("4111 1111"))
        #expect(prompt.contains("[REDACTED:email]"))
        #expect(prompt.contains("[REDACTED:payment_card]"))
        // The rubric's own text, the order number, route, model and harmless metadata stay.
        #expect(prompt.hasPrefix("Grade the answer of the support assistant.\n"))
        #expect(prompt.hasSuffix(#"Reply with JSON only: {"score": <1-5>}"#))
        #expect(prompt.contains("A-55021"))
        #expect(prompt.contains("req-77 support-chat gpt-4o-mini"))
    }

    @Test func hugePromptsAreRefusedAtRender() throws {
        let rubric = try parse(rubricText(basicFront, basicBody))
        let huge = variables(output: String(repeating: "x", count: JudgeRubric.maxPromptCharacters + 1))
        #expect(throws: JudgeRubricError.self) { try rubric.render(huge) }
        #expect(try rubric.render(variables()).contains("Shipped."))
    }

    // MARK: - The shipped rubrics

    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test(arguments: [
        ("helpfulness", ["support-chat", "refunds-assist"], ["extract-order", "summarize-ticket"], JudgeScale.numeric(min: 1, max: 5)),
        ("faithfulness", ["summarize-ticket", "extract-order", "refunds-assist"], ["support-chat"], JudgeScale.numeric(min: 1, max: 5)),
        ("instruction-following", ["support-chat", "extract-order", "refunds-assist", "summarize-ticket"], [], JudgeScale.numeric(min: 1, max: 5)),
        ("tone-safety", ["support-chat", "extract-order", "refunds-assist", "summarize-ticket"], [], JudgeScale.passFail),
    ])
    func shippedRubricsParseAndRender(name: String, routes: [String], otherRoutes: [String], scale: JudgeScale) throws {
        let path = Self.repositoryRoot + "/reference-judges/\(name).md"
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let rubric = try JudgeRubric.parse(path: path, bytes: bytes)
        #expect(rubric.name == name)
        #expect(rubric.version == "1")
        #expect(rubric.scale == scale)
        #expect(rubric.endpoint == nil, "shipped judges use judge.default_endpoint")
        #expect(rubric.summary?.isEmpty == false)
        for route in routes { #expect(rubric.applies(toRoute: route), "\(name) on \(route)") }
        for route in otherRoutes { #expect(!rubric.applies(toRoute: route), "\(name) on \(route)") }
        let prompt = try rubric.render(.example)
        #expect(prompt.contains(JudgePromptVariables.example.output))
        #expect(prompt.contains("<3 & thanks"), "not HTML-escaped")
        #expect(!prompt.contains("{{"), "a tag left unrendered")
        #expect(prompt.contains(scale == .passFail ? #"{"pass": "# : #"{"score": "#))
        // Anchored scale descriptions.
        if case .numeric = scale {
            for anchor in ["1 = ", "3 = ", "5 = "] { #expect(prompt.contains(anchor), "\(name) lacks \(anchor)") }
        }
    }
}
