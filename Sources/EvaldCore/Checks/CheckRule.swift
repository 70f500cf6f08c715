import Foundation

/// What a check tests. Built once from the config; `evaluate` is pure.
public enum CheckRule: Sendable {
    case statusOK
    case jsonValid(allowFenced: Bool)
    case jsonSchema(JSONSchema, file: String, allowFenced: Bool)
    case regex(RegexBox, pattern: String, mustMatch: Bool)
    case contains([String], ignoreCase: Bool, mustContain: Bool)
    case length(min: Int?, max: Int?)
    case latency(maxMs: Double)
    case cost(maxUSD: Double)
    case tokens(maxOutput: Int?, maxInput: Int?)
    case refusal(RefusalDetector)
    case pii(PIIDetector)
    case toolCalls(allowed: Set<String>?, schemas: [String: JSONSchema])
    case referenceMatch(exact: Bool, minF1: Double)
    case systemPromptLeak(minTokens: Int)
    case canary([String])
    case injection(InjectionDetector)

    /// The verdict, or nil when the check does not apply to this trace.
    public func evaluate(_ record: TraceRecord) -> (passed: Bool, detail: String)? {
        switch self {
        case .statusOK:
            return record.status == .error ? (false, "status error" + (record.error.map { ": \($0.prefix(120))" } ?? "")) : (true, "ok")
        case .latency(let maxMs):
            guard let latency = record.latencyMs else { return nil }
            return latency <= maxMs ? (true, "\(Self.number(latency)) ms") : (false, "latency \(Self.number(latency)) ms > \(Self.number(maxMs)) ms")
        case .cost(let maxUSD):
            guard let cost = record.costUSD else { return nil }
            return cost <= maxUSD ? (true, "$\(cost)") : (false, "cost $\(cost) > $\(maxUSD)")
        case .tokens(let maxOutput, let maxInput):
            var problems: [String] = []
            var known = false
            if let maxOutput, let tokens = record.outputTokens {
                known = true
                if tokens > maxOutput { problems.append("output tokens \(tokens) > \(maxOutput)") }
            }
            if let maxInput, let tokens = record.inputTokens {
                known = true
                if tokens > maxInput { problems.append("input tokens \(tokens) > \(maxInput)") }
            }
            guard known else { return nil }
            return problems.isEmpty ? (true, "within limits") : (false, problems.joined(separator: "; "))
        case .toolCalls(let allowed, let schemas):
            // A trace without content (an OTLP span recorded without messages) says nothing about tools.
            guard record.hasContent, record.status != .error else { return nil }
            return Self.checkToolCalls(record.toolCalls, allowed: allowed, schemas: schemas)
        case .systemPromptLeak(let minTokens):
            let system = record.input.filter { $0.role == "system" || $0.role == "developer" }.map(\.content).joined(separator: "\n")
            guard record.status != .error, let output = record.output, !system.isEmpty else { return nil }
            guard let run = LeakDetection.reproducedRun(system: system, output: output, minTokens: minTokens) else {
                return (true, "no \(minTokens) consecutive tokens of the system message")
            }
            return (
                false,
                "reproduces \(run.length) consecutive tokens of the system message: \"\(Self.excerpt(run.tokens.joined(separator: " ")[...]))\""
            )
        case .canary(let canaries):
            guard record.status != .error, record.output != nil || !record.toolCalls.isEmpty else { return nil }
            guard let found = LeakDetection.canary(canaries, output: record.output, toolCalls: record.toolCalls) else {
                return (true, "no canary")
            }
            return (false, "the canary \"\(found.canary.prefix(4))...\" (\(found.canary.count) characters) appears in \(found.place)")
        case .referenceMatch(let exact, let minF1):
            guard record.status != .error, let reference = record.reference, let output = record.output else { return nil }
            if exact {
                return ReferenceMatch.exactMatch(output, reference) ? (true, "exact match") : (false, "no exact match with the reference (after normalization)")
            }
            let f1 = ReferenceMatch.f1(output, reference)
            let text = String(format: "%.2f", f1)
            return f1 >= minF1 ? (true, "F1 \(text)") : (false, "F1 \(text) < \(minF1) against the reference")
        default:
            break
        }
        // The remaining checks read the output; an error trace (even with partial text) has
        // none to judge: it already counts against status_ok and op:error_rate.
        guard record.status != .error, let output = record.output else { return nil }
        switch self {
        case .jsonValid(let allowFenced):
            switch JSONOutput.parse(output, allowFenced: allowFenced) {
            case .success: return (true, "valid JSON")
            case .failure(let failure): return (false, Self.describe(failure))
            }
        case .jsonSchema(let schema, let file, let allowFenced):
            switch JSONOutput.parse(output, allowFenced: allowFenced) {
            case .failure(let failure): return (false, Self.describe(failure))
            case .success(let value):
                let violations = schema.validate(value)
                guard let first = violations.first else { return (true, "valid against \((file as NSString).lastPathComponent)") }
                let more = violations.count > 1 ? " (+\(violations.count - 1) more)" : ""
                return (false, "\(first.description)\(more)")
            }
        case .regex(let box, let pattern, let mustMatch):
            let range = NSRange(output.startIndex..., in: output)
            let match = box.items[0].firstMatch(in: output, range: range)
            if mustMatch {
                return match != nil ? (true, "matches /\(pattern)/") : (false, "no match for /\(pattern)/")
            }
            guard let match, let r = Range(match.range, in: output) else { return (true, "no match for /\(pattern)/") }
            return (false, "matches /\(pattern)/ \(Self.position(of: r, in: output)): \"\(Self.excerpt(output[r]))\"")
        case .contains(let values, let ignoreCase, let mustContain):
            let options: String.CompareOptions = ignoreCase ? [.caseInsensitive] : []
            let found = values.filter { output.range(of: $0, options: options) != nil }
            if mustContain {
                let missing = values.filter { !found.contains($0) }
                return missing.isEmpty
                    ? (true, "contains all \(values.count)") : (false, "missing " + missing.map { "\"\(Self.excerpt($0[...]))\"" }.joined(separator: ", "))
            }
            return found.isEmpty ? (true, "contains none") : (false, "contains " + found.map { "\"\(Self.excerpt($0[...]))\"" }.joined(separator: ", "))
        case .length(let min, let max):
            let count = output.count
            if let min, count < min { return (false, "length \(count) < min \(min) characters") }
            if let max, count > max { return (false, "length \(count) > max \(max) characters") }
            return (true, "length \(count)")
        case .refusal(let detector):
            guard let phrase = detector.refusal(in: output) else { return (true, "not a refusal") }
            return (false, "refusal: \"\(Self.excerpt(phrase[...]))\"")
        case .pii(let detector):
            let matches = detector.matches(in: output)
            guard !matches.isEmpty else { return (true, "no PII found") }
            // Say what and where, never the value itself: the detail is stored and shown.
            let found = matches.prefix(5).map { match in
                "\(match.kind.rawValue) \(Self.position(of: match.range, in: output)) (\(Self.mask(match.text)))"
            }
            let more = matches.count > 5 ? " (+\(matches.count - 5) more)" : ""
            return (false, found.joined(separator: ", ") + more)
        case .injection(let detector):
            guard let finding = detector.firstFinding(in: output) else { return (true, "no injection attempt") }
            return (
                false,
                "\(finding.signal.rawValue) \(Self.position(of: finding.range, in: output)): \"\(Self.excerpt(finding.excerpt[...]))\""
            )
        default:
            return nil
        }
    }

    static func checkToolCalls(_ calls: [TraceRecord.ToolCall], allowed: Set<String>?, schemas: [String: JSONSchema]) -> (Bool, String)? {
        guard !calls.isEmpty else { return (true, "no tool calls") }
        for call in calls {
            if let allowed, !allowed.contains(call.name) {
                return (false, "tool \"\(excerpt(call.name[...]))\" is not allowed (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
            let arguments: JSONValue
            do {
                arguments = try JSONParser.parse(call.arguments.isEmpty ? "{}" : call.arguments)
            } catch {
                return (false, "arguments of \(call.name) are not valid JSON: \(error)")
            }
            if let schema = schemas[call.name], let violation = schema.validate(arguments).first {
                return (false, "arguments of \(call.name): \(violation.description)")
            }
        }
        return (true, "\(calls.count) tool call\(calls.count == 1 ? "" : "s") ok")
    }

    static func describe(_ failure: JSONOutput.Failure) -> String {
        switch failure {
        case .notJSON(let reason): return "output is not JSON: \(reason)"
        case .fencedNotAllowed: return "output is JSON inside a ``` fence; set allow_fenced: true to accept that"
        }
    }

    /// Where a match is, in units every consumer can count: Unicode scalars (Python's str
    /// indexes, JavaScript's code points) and UTF-8 bytes, each with the match's length.
    static func position(of range: Range<String.Index>, in text: String) -> String {
        let scalars = text.unicodeScalars, bytes = text.utf8
        let scalar = scalars.distance(from: scalars.startIndex, to: range.lowerBound)
        let scalarLength = scalars.distance(from: range.lowerBound, to: range.upperBound)
        let byte = bytes.distance(from: bytes.startIndex, to: range.lowerBound)
        let byteLength = bytes.distance(from: range.lowerBound, to: range.upperBound)
        return "at scalar \(scalar) (+\(scalarLength)), byte \(byte) (+\(byteLength))"
    }

    static func excerpt(_ text: Substring, limit: Int = 60) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count > limit ? String(flat.prefix(limit)) + "..." : flat
    }

    /// `jo***@ex***.com`-style: enough to recognise the kind, not enough to leak it.
    static func mask(_ text: String) -> String {
        let characters = Array(text)
        guard characters.count > 4 else { return String(repeating: "*", count: characters.count) }
        let keep = min(2, characters.count / 4)
        return String(characters.prefix(keep)) + String(repeating: "*", count: min(8, characters.count - 2 * keep)) + String(characters.suffix(keep))
    }

    static func number(_ value: Double) -> String {
        // Int64(value) traps beyond 2^63: format whole numbers as text instead.
        value == value.rounded() ? String(format: "%.0f", value) : String(format: "%.1f", value)
    }
}
