import Foundation

/// A human's verdict on a golden case: `label: {"pass": bool, "score": n}`, either part optional.
public struct GoldenLabel: Sendable, Equatable, Codable {
    public var pass: Bool?
    public var score: Double?

    public init(pass: Bool? = nil, score: Double? = nil) {
        self.pass = pass
        self.score = score
    }
}

/// One case of a golden set: a native record and, optionally, a human label.
public struct GoldenCase: Sendable, Equatable {
    /// The case's `id`, else its line number in cases.jsonl: stable names for reports and baselines.
    public var id: String
    public var line: Int
    public var record: TraceRecord
    /// `metadata.KEY` for judge prompts, as the daemon passes them.
    public var metadata: [String: String]
    public var label: GoldenLabel?
    /// A red-team case's expectations (`expect`, `forbidden_tools`, `canary`).
    public var redTeam: RedTeamSpec?
    /// The tools offered to the model when the case is replayed (`tools`).
    public var tools: [ToolDefinition]

    public init(
        id: String, line: Int, record: TraceRecord, metadata: [String: String] = [:], label: GoldenLabel? = nil, redTeam: RedTeamSpec? = nil,
        tools: [ToolDefinition] = []
    ) {
        self.id = id
        self.line = line
        self.record = record
        self.metadata = metadata
        self.label = label
        self.redTeam = redTeam
        self.tools = tools
    }

    /// The same case answered anew (the canary's replay): checks and judges then grade the fresh
    /// answer against the case's input, reference and label. Latency, cost and tokens are the
    /// fresh call's, or unknown (those checks then do not apply) rather than the old answer's.
    public func answered(
        output: String, toolCalls: [TraceRecord.ToolCall] = [], status: TraceRecord.Status = .ok,
        error: String? = nil, latencyMs: Double? = nil, costUSD: Double? = nil,
        inputTokens: Int? = nil, outputTokens: Int? = nil
    ) -> GoldenCase {
        var copy = self
        copy.record.output = output
        copy.record.toolCalls = toolCalls
        copy.record.status = status
        copy.record.error = error
        copy.record.latencyMs = latencyMs
        copy.record.costUSD = costUSD
        copy.record.inputTokens = inputTokens
        copy.record.outputTokens = outputTokens
        return copy
    }
}

/// A problem with one line of cases.jsonl, as `path:line: key: message`.
public struct GoldenCaseProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var key: String
    public var message: String

    public init(path: String, line: Int, key: String, message: String) {
        self.path = path
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String { "\(path):\(line): \(key): \(message)" }
}

/// Reads a golden set's cases.jsonl. Every bad line is reported (not only the first), so a
/// hand-edited set is fixed in one pass; a bad line never stops the reading.
public enum GoldenCaseParser {
    public static func parse(_ bytes: [UInt8], path: String) -> (cases: [GoldenCase], problems: [GoldenCaseProblem]) {
        var cases: [GoldenCase] = []
        var problems: [GoldenCaseProblem] = []
        var seenIDs: [String: Int] = [:]
        let text = String(decoding: bytes, as: UTF8.self)
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            // Blank lines and `#` comments let a set be annotated by hand.
            if line.isEmpty || line.hasPrefix("#") { continue }
            func problem(_ key: String, _ message: String) {
                problems.append(GoldenCaseProblem(path: path, line: lineNumber, key: key, message: message))
            }
            let value: JSONValue
            do {
                value = try JSONParser.parse(line)
            } catch {
                problem("json", "not valid JSON (\(error)); each line must be one native record")
                continue
            }
            let record: TraceRecord
            do {
                record = try NativeRecordDecoder.decode(value)
            } catch {
                problem(fieldName(in: error.detail) ?? "record", error.detail)
                continue
            }
            var id = String(lineNumber)
            if let rawID = NativeRecordDecoder.present(value["id"]) {
                if let text = rawID.stringValue, !text.isEmpty {
                    id = text
                } else if let number = rawID.numberValue, number == number.rounded(), abs(number) < 1e15 {
                    id = String(Int64(number))
                } else {
                    problem("id", "must be a non-empty string or a whole number, not \(rawID.typeName)")
                    continue
                }
            }
            if let first = seenIDs[id] {
                problem("id", "\"\(id)\" is already the id of line \(first); case ids must be unique (reports and baselines name cases by them)")
                continue
            }
            let label: GoldenLabel?
            switch parseLabel(value["label"]) {
            case .success(let parsed): label = parsed
            case .failure(let failure):
                problem(failure.key, failure.message)
                continue
            }
            let redTeam: RedTeamSpec?
            switch RedTeamSpec.parse(value) {
            case .success(let parsed): redTeam = parsed
            case .failure(let failure):
                problem(failure.key, failure.message)
                continue
            }
            let tools: [ToolDefinition]
            switch ToolDefinition.parse(value["tools"]) {
            case .success(let parsed): tools = parsed
            case .failure(let failure):
                problem(failure.key, failure.message)
                continue
            }
            seenIDs[id] = lineNumber
            cases.append(
                GoldenCase(
                    id: id, line: lineNumber, record: record,
                    metadata: JudgePromptBuilder.metadataStrings(value["metadata"]), label: label, redTeam: redTeam, tools: tools))
        }
        return (cases, problems)
    }

    private struct LabelFailure: Error {
        var key: String
        var message: String
    }

    private static func parseLabel(_ value: JSONValue?) -> Result<GoldenLabel?, LabelFailure> {
        guard let value = NativeRecordDecoder.present(value) else { return .success(nil) }
        guard case .object(let members) = value else {
            return .failure(LabelFailure(key: "label", message: "must be an object like {\"pass\": true, \"score\": 4}, not \(value.typeName)"))
        }
        var label = GoldenLabel()
        for (key, member) in members {
            switch key {
            case "pass":
                guard case .bool(let pass) = member else {
                    return .failure(LabelFailure(key: "label.pass", message: "must be true or false, not \(member.typeName)"))
                }
                label.pass = pass
            case "score":
                guard let score = member.numberValue, score.isFinite else {
                    return .failure(LabelFailure(key: "label.score", message: "must be a number, not \(member.typeName)"))
                }
                label.score = score
            default:
                // A typo (`"passed"`) would silently leave the case unlabelled.
                return .failure(LabelFailure(key: "label.\(key)", message: "unknown key; a label holds only \"pass\" and \"score\""))
            }
        }
        if label.pass == nil, label.score == nil {
            return .failure(LabelFailure(key: "label", message: "holds neither \"pass\" nor \"score\"; remove it or label the case"))
        }
        return .success(label)
    }

    /// The decoder's messages quote the field first (`"output" must be ...`, `missing required field "model"`).
    static func fieldName(in detail: String) -> String? {
        guard let open = detail.firstIndex(of: "\"") else { return nil }
        let rest = detail[detail.index(after: open)...]
        guard let close = rest.firstIndex(of: "\"") else { return nil }
        let name = String(rest[..<close])
        return name.isEmpty || name.contains(" ") ? nil : name
    }
}
