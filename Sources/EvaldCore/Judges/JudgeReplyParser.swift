import Foundation

/// Reads a judge's verdict out of its reply.
///
/// Models wrap their JSON in prose, in ```json fences, or answer with a draft object before the
/// final one, whatever the prompt says; so the parser looks at every balanced `{...}` in the
/// reply, in order, and takes the first object that has the key the scale needs.
public enum JudgeReplyParser {
    /// Replies are bounded by `max_output_tokens`; these bounds only keep a misbehaving endpoint
    /// from making the search quadratic on a huge body.
    static let maxScannedBytes = 64 * 1024
    static let maxCandidates = 256
    /// A reason is stored with every score; a judge that writes an essay gets it cut here.
    public static let maxReasonLength = 1000

    /// Accepts a JSON object anywhere in the reply: the whole reply, a ```json fenced block, or an object after (or before) prose;
    /// tries each balanced {...} candidate (respecting strings/escapes) and takes the first that parses and has the needed key.
    /// Numeric scale: `score` number (or numeric string like "4"), within [min, max] else outOfRange; passed = score >= passAt.
    /// pass_fail: `pass` bool (or "true"/"false", or "pass"/"fail"); score 1/0. `reason` optional string.
    ///
    /// A score on a whole-number scale (see `JudgeScale.takesWholeNumbers`) must be whole: 4.5 on
    /// 1-5 is `not_an_integer`. A reply that copies the rubric's placeholder (a `reason` or `score`
    /// such as `"<one sentence>"`) is `placeholder_echoed`, whatever its score.
    /// - Parameter finishReason: the API's `finish_reason` / `stop_reason`; when it says the reply
    ///   was cut at max_output_tokens ("length", "max_tokens"), an unusable reply is `truncated`.
    public static func parse(
        _ reply: String, scale: JudgeScale, passAt: Double, finishReason: String? = nil, maxOutputTokens: Int? = nil
    ) -> Result<JudgeScore, JudgeReplyError> {
        let result = parseVerdict(reply, scale: scale, passAt: passAt)
        guard case .failure(let error) = result, isTruncation(finishReason) else { return result }
        // A cut reply fails for a reason the rubric's author can fix: more room, not a better model.
        let limit = maxOutputTokens.map { " (\($0) tokens)" } ?? ""
        return .failure(
            JudgeReplyError(
                kind: .truncated,
                message:
                    "the reply was cut at max_output_tokens\(limit) before it held a verdict (finish reason \"\(finishReason ?? "")\", then \(error.kind.rawValue)); raise max_output_tokens in the rubric or ask for a shorter reason",
                reply: reply))
    }

    /// Whether a finish reason says the reply hit the output token limit: OpenAI's (and llama.cpp's,
    /// vLLM's, Ollama's) `length`, Anthropic's `max_tokens`.
    public static func isTruncation(_ finishReason: String?) -> Bool {
        guard let finishReason else { return false }
        return ["length", "max_tokens"].contains(finishReason.lowercased())
    }

    static func parseVerdict(_ reply: String, scale: JudgeScale, passAt: Double) -> Result<JudgeScore, JudgeReplyError> {
        let key: String
        switch scale {
        case .numeric: key = "score"
        case .passFail: key = "pass"
        }
        let objects = jsonObjects(in: reply)
        guard !objects.isEmpty else {
            return .failure(JudgeReplyError(kind: .noJSON, message: "the reply holds no JSON object", reply: reply))
        }
        // A key at the top of an object wins over one nested in a wrapper like {"result": {...}}.
        guard let object = objects.first(where: { $0[key] != nil }) ?? objects.lazy.compactMap({ nestedObject(in: $0, holding: key) }).first,
            let value = object[key]
        else {
            switch scale {
            case .numeric:
                return .failure(JudgeReplyError(kind: .noScore, message: "the reply's JSON has no \"score\"", reply: reply))
            case .passFail:
                return .failure(JudgeReplyError(kind: .noPassField, message: "the reply's JSON has no \"pass\" (scale pass_fail)", reply: reply))
            }
        }
        let reason = object["reason"]?.stringValue.map(trimmedReason)
        if let echoed = [reason, value.stringValue].compactMap({ $0 }).first(where: isPlaceholder) {
            return .failure(
                JudgeReplyError(
                    kind: .placeholderEchoed,
                    message: "the reply copies the rubric's placeholder \"\(echoed.prefix(60))\" instead of grading", reply: reply))
        }
        switch scale {
        case .numeric(let min, let max):
            guard let score = number(value) else {
                return .failure(JudgeReplyError(kind: .notANumber, message: "\"score\" is \(describe(value)), not a number", reply: reply))
            }
            guard (min...max).contains(score) else {
                return .failure(
                    JudgeReplyError(
                        kind: .outOfRange,
                        message: "score \(JudgeNumber.text(score)) is outside the scale \(JudgeNumber.text(min))...\(JudgeNumber.text(max))", reply: reply))
            }
            guard !scale.takesWholeNumbers || score == score.rounded() else {
                return .failure(
                    JudgeReplyError(
                        kind: .notAnInteger,
                        message:
                            "score \(JudgeNumber.text(score)) is not a whole number; the scale \(JudgeNumber.text(min))...\(JudgeNumber.text(max)) takes whole scores",
                        reply: reply))
            }
            return .success(JudgeScore(score: score, passed: score >= passAt, reason: reason))
        case .passFail:
            guard let passed = verdict(value) else {
                return .failure(
                    JudgeReplyError(
                        kind: .noPassField,
                        message: "\"pass\" is \(describe(value)), not true or false", reply: reply))
            }
            return .success(JudgeScore(score: passed ? 1 : 0, passed: passed, reason: reason))
        }
    }

    /// Every balanced `{...}` that parses as a JSON object, in reply order. Braces inside JSON
    /// strings do not count; after a candidate that does not parse, the search resumes at the
    /// next brace inside it, so stray prose like "{see below}" cannot hide the object after it.
    static func jsonObjects(in reply: String) -> [JSONValue] {
        let bytes = Array(reply.utf8.prefix(maxScannedBytes))
        var objects: [JSONValue] = []
        var start = 0, attempts = 0
        while start < bytes.count, attempts < maxCandidates {
            guard bytes[start] == UInt8(ascii: "{") else { start += 1; continue }
            attempts += 1
            if let end = balancedEnd(bytes, from: start),
                let object = try? JSONParser.parse(String(decoding: bytes[start...end], as: UTF8.self)),
                case .object = object
            {
                objects.append(object)
                start = end + 1
            } else {
                start += 1
            }
        }
        return objects
    }

    /// The index of the `}` that closes the `{` at `start`, or nil when the reply ends first.
    static func balancedEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var depth = 0, inString = false, escaped = false
        for index in start..<bytes.count {
            let byte = bytes[index]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 { return index }
            default: break
            }
        }
        return nil
    }

    /// An object below `object` (depth first, a few levels) that has `key`.
    static func nestedObject(in object: JSONValue, holding key: String, depth: Int = 3) -> JSONValue? {
        guard depth > 0, case .object(let members) = object else { return nil }
        for (_, value) in members {
            guard case .object = value else { continue }
            if value[key] != nil { return value }
            if let found = nestedObject(in: value, holding: key, depth: depth - 1) { return found }
        }
        return nil
    }

    /// A rubric's template slot copied verbatim: `<one sentence ...>`, `<integer 1-5>`.
    static func isPlaceholder(_ text: String) -> Bool {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.count >= 3 && trimmed.hasPrefix("<") && trimmed.hasSuffix(">") && !trimmed.dropFirst().dropLast().contains("<")
    }

    static func number(_ value: JSONValue) -> Double? {
        let number: Double?
        switch value {
        case .int, .double: number = value.numberValue
        case .string(let text): number = Double(text.trimmingCharacters(in: .whitespaces))
        default: number = nil
        }
        return number.flatMap { $0.isFinite ? $0 : nil }
    }

    static func verdict(_ value: JSONValue) -> Bool? {
        switch value {
        case .bool(let flag): return flag
        case .int(1): return true
        case .int(0): return false
        case .string(let text):
            switch text.trimmingCharacters(in: .whitespaces).lowercased() {
            case "true", "pass", "passed", "yes": return true
            case "false", "fail", "failed", "no": return false
            default: return nil
            }
        default: return nil
        }
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): return "\"\(text.prefix(40))\""
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        default: return value.typeName
        }
    }

    static func trimmedReason(_ reason: String) -> String {
        let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.count > maxReasonLength ? String(trimmed.prefix(maxReasonLength)) + "…" : trimmed
    }
}
