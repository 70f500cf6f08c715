import Crypto
import Foundation
import Yams

extension JudgeRubric {
    /// The front matter's keys. Unknown keys are errors: a typo (`pass_a: 3`) must not silently
    /// leave a judge on its default.
    public static let frontMatterKeys: Set<String> = [
        "name", "version", "applies_to", "endpoint", "scale", "pass_at", "temperature", "max_output_tokens", "description",
        "min_pass_rate",
    ]

    /// Parses a rubric file: front matter "---\n...\n---\n" then the Mustache template, which is
    /// compiled and checked here, so a rubric that loads can be rendered for any trace.
    ///
    /// Throws the first problem in file order (front matter, then template); a rubric is short,
    /// and a later problem is often a consequence of the first.
    public static func parse(path: String, bytes: [UInt8]) throws(JudgeRubricError) -> JudgeRubric {
        guard var text = String(validating: bytes, as: UTF8.self) else {
            throw JudgeRubricError(path: path, line: nil, key: nil, message: "is not UTF-8 text")
        }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        text = text.replacingOccurrences(of: "\r\n", with: "\n")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let isFence = { (line: Substring) in line.trimmingCharacters(in: .whitespaces) == "---" }
        guard let first = lines.first, isFence(first) else {
            throw JudgeRubricError(
                path: path, line: 1, key: nil,
                message: "a rubric starts with YAML front matter between two \"---\" lines (name, version, scale, ...), then the prompt template")
        }
        guard let fence = lines.indices.dropFirst().first(where: { isFence(lines[$0]) }) else {
            throw JudgeRubricError(path: path, line: 1, key: nil, message: "the front matter opened on line 1 is never closed by a \"---\" line")
        }
        // lines[0] is line 1 of the file: the YAML starts on line 2, the template after the closing fence.
        var front = try FrontMatter(yaml: lines[1..<fence].joined(separator: "\n"), path: path, firstLine: 2)
        let templateLine = fence + 2
        let template = try JudgePromptTemplate(body: lines[(fence + 1)...].joined(separator: "\n"), firstLine: templateLine, path: path)

        if template.usedNames.isDisjoint(with: JudgePromptVariables.contentNames) {
            throw JudgeRubricError(
                path: path, line: templateLine, key: "template",
                message: "the prompt uses none of {{output}}, {{input_text}}, {{last_user_message}}, {{tool_calls}}: the judge would not see the trace")
        }
        // A prompt that asks for the other reply shape makes every reply a judge_error.
        let replyKey = front.scale == .passFail ? "pass" : "score"
        if !template.mustache.description.contains("\"\(replyKey)\"") {
            let shape = front.scale == .passFail ? #"{"pass": true|false, "reason": "..."}"# : #"{"score": <number>, "reason": "..."}"#
            throw JudgeRubricError(
                path: path, line: templateLine, key: "template",
                message: "the prompt never asks for the reply \(shape) that scale \(front.scale) needs; tell the judge to reply with that JSON")
        }
        front.keyLines["template"] = templateLine
        return JudgeRubric(
            name: front.name, version: front.version, appliesTo: front.appliesTo.map(Glob.init), appliesToPatterns: front.appliesTo,
            endpoint: front.endpoint, scale: front.scale, passAt: front.passAt, temperature: front.temperature,
            maxOutputTokens: front.maxOutputTokens, summary: front.summary, minPassRate: front.minPassRate, sourcePath: path,
            contentHash: lowercaseHex(SHA256.hash(data: bytes).prefix(4)),
            keyLines: front.keyLines, templateLine: templateLine, template: template)
    }
}

/// The front matter's values, read and checked one key at a time; the first problem is thrown
/// with its line in the file.
struct FrontMatter {
    var name = ""
    var version = ""
    var appliesTo = ["*"]
    var endpoint: String?
    var scale = JudgeScale.passFail
    var passAt = 1.0
    var temperature = 0.0
    var maxOutputTokens = 300
    var summary: String?
    var minPassRate: Double?
    var keyLines: [String: Int] = [:]

    /// The reply `{"score": 4, "reason": "<one sentence>"}` is about 30 tokens; fewer than this
    /// cuts it off and turns every verdict into a judge_error.
    static let minOutputTokens = 16

    private let path: String
    private let firstLine: Int

    init(yaml: String, path: String, firstLine: Int) throws(JudgeRubricError) {
        self.path = path
        self.firstLine = firstLine
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            if case .duplicatedKeysInMapping(let duplicates, let context) = error {
                throw JudgeRubricError(
                    path: path, line: context.mark.line + firstLine - 1, key: duplicates.first,
                    message: "is given twice in the front matter")
            }
            throw JudgeRubricError(
                path: path, line: EvaldConfig.line(of: error).map { $0 + firstLine - 1 }, key: nil,
                message: "the front matter is not valid YAML: \(EvaldConfig.shortDescription(error))")
        } catch {
            throw JudgeRubricError(path: path, line: nil, key: nil, message: "the front matter is not valid YAML: \(error)")
        }
        guard let root, case .mapping(let mapping) = root else {
            throw JudgeRubricError(
                path: path, line: firstLine - 1, key: nil,
                message: "the front matter must be a mapping of keys to values, at least name, version and scale")
        }
        var nodes: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else { throw failure(keyNode, nil, "keys must be strings") }
            guard JudgeRubric.frontMatterKeys.contains(key) else {
                let hint = YAMLWalker.closest(key, in: JudgeRubric.frontMatterKeys).map { " (did you mean \"\($0)\"?)" } ?? ""
                throw failure(keyNode, key, "unknown key\(hint); known keys: \(JudgeRubric.frontMatterKeys.sorted().joined(separator: ", "))")
            }
            nodes[key] = value
            keyLines[key] = line(keyNode)
        }
        func required(_ key: String, _ example: String) throws(JudgeRubricError) -> Node {
            guard let node = nodes[key], !isNull(node) else {
                throw JudgeRubricError(path: path, line: firstLine - 1, key: key, message: "is required (e.g. \(example))")
            }
            return node
        }

        let nameNode = try required("name", "name: helpfulness")
        name = try scalar(nameNode, "name")
        guard name.count <= 64, name.utf8.first.map(Self.isNameStart) == true, name.utf8.allSatisfy(Self.isNameByte) else {
            throw failure(nameNode, "name", "\"\(name)\" is not a judge name: lowercase letters, digits, _ and -, starting with a letter or digit (at most 64)")
        }
        let versionNode = try required("version", "version: 1; raise it when you change what the judge measures")
        version = try scalar(versionNode, "version")
        guard !version.isEmpty, version.count <= 32, version.unicodeScalars.allSatisfy(Self.isVersionScalar) else {
            throw failure(versionNode, "version", "\"\(version)\" is not a version: letters, digits, '.', '_' and '-' only (e.g. 3 or 2026-11)")
        }
        scale = try readScale(try required("scale", "scale: {min: 1, max: 5} or scale: pass_fail"))
        if let node = nodes["applies_to"], !isNull(node) { appliesTo = try globs(node) }
        if let node = nodes["endpoint"], !isNull(node) {
            let value = try scalar(node, "endpoint")
            guard !value.isEmpty else { throw failure(node, "endpoint", "is empty; leave it out to use judge.default_endpoint") }
            endpoint = value
        }
        switch (scale, nodes["pass_at"].flatMap { isNull($0) ? nil : $0 }) {
        case (.passFail, let node?):
            throw failure(node, "pass_at", "does not apply to scale pass_fail, where the judge's \"pass\" decides; remove it")
        case (.passFail, nil):
            passAt = 1
        case (.numeric(let min, let max), let node?):
            passAt = try number(node, "pass_at")
            guard passAt > min, passAt <= max else {
                throw failure(
                    node, "pass_at",
                    "\(JudgeNumber.text(passAt)) must be above min \(JudgeNumber.text(min)) and at most max \(JudgeNumber.text(max)), or every score passes or none does"
                )
            }
        case (.numeric, nil):
            passAt = scale.defaultPassAt
        }
        if let node = nodes["temperature"], !isNull(node) {
            temperature = try number(node, "temperature")
            guard (0...2).contains(temperature) else { throw failure(node, "temperature", "\(JudgeNumber.text(temperature)) is out of range 0...2") }
        }
        if let node = nodes["max_output_tokens"], !isNull(node) {
            let text = try scalar(node, "max_output_tokens")
            guard let value = Int(text), (Self.minOutputTokens...100_000).contains(value) else {
                throw failure(node, "max_output_tokens", "\"\(text)\" is not a whole number from \(Self.minOutputTokens) (room for the JSON reply) to 100000")
            }
            maxOutputTokens = value
        }
        if let node = nodes["description"], !isNull(node) { summary = try scalar(node, "description") }
        if let node = nodes["min_pass_rate"], !isNull(node) {
            let floor = try number(node, "min_pass_rate")
            guard (0...1).contains(floor) else { throw failure(node, "min_pass_rate", "\(JudgeNumber.text(floor)) is not a pass rate from 0 to 1") }
            minPassRate = floor
        }
    }

    private func readScale(_ node: Node) throws(JudgeRubricError) -> JudgeScale {
        let usage = "must be {min: 1, max: 5} (whole numbers, min < max) or pass_fail"
        switch node {
        case .scalar(let scalar):
            guard scalar.string == "pass_fail" else { throw failure(node, "scale", "\"\(scalar.string)\" \(usage)") }
            return .passFail
        case .mapping(let mapping):
            var bounds: [String: Int] = [:]
            for (keyNode, value) in mapping {
                let key = keyNode.string ?? ""
                guard key == "min" || key == "max" else {
                    throw failure(keyNode, "scale.\(key)", "unknown key; scale \(usage)")
                }
                let text = try scalar(value, "scale.\(key)")
                guard let bound = Int(text) else { throw failure(value, "scale.\(key)", "\"\(text)\" is not a whole number") }
                bounds[key] = bound
            }
            guard let min = bounds["min"], let max = bounds["max"] else { throw failure(node, "scale", "needs both min and max; it \(usage)") }
            guard min < max else { throw failure(node, "scale", "min \(min) must be less than max \(max)") }
            return .numeric(min: Double(min), max: Double(max))
        default:
            throw failure(node, "scale", usage)
        }
    }

    private func globs(_ node: Node) throws(JudgeRubricError) -> [String] {
        let patterns: [String]
        switch node {
        case .scalar:
            patterns = [try scalar(node, "applies_to")]
        case .sequence(let items):
            var list: [String] = []
            for (index, item) in items.enumerated() { list.append(try scalar(item, "applies_to[\(index)]")) }
            patterns = list
        default:
            throw failure(node, "applies_to", "must be a route glob or a list of them, e.g. [\"support-*\", \"refunds-*\"]")
        }
        guard !patterns.isEmpty, !patterns.contains(where: \.isEmpty) else {
            throw failure(
                node, "applies_to", "\(patterns.isEmpty ? "an empty list" : "an empty glob") matches no route; leave applies_to out to judge every route")
        }
        return patterns
    }

    private func scalar(_ node: Node, _ key: String) throws(JudgeRubricError) -> String {
        guard case .scalar(let scalar) = node else { throw failure(node, key, "must be a single value, not a list or mapping") }
        return isNull(node) ? "" : scalar.string
    }

    private func number(_ node: Node, _ key: String) throws(JudgeRubricError) -> Double {
        let text = try scalar(node, key)
        guard let value = Double(text), value.isFinite else { throw failure(node, key, "\"\(text)\" is not a number") }
        return value
    }

    private func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    private func line(_ node: Node) -> Int? { node.mark.map { $0.line + firstLine - 1 } }

    private func failure(_ node: Node, _ key: String?, _ message: String) -> JudgeRubricError {
        JudgeRubricError(path: path, line: line(node), key: key, message: message)
    }

    private static func isNameStart(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        isNameStart(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    private static func isVersionScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || ".-_".unicodeScalars.contains(scalar))
    }
}
