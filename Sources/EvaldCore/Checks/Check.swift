import Foundation

/// A configured check: its name, kind and rule.
public struct Check: Sendable {
    public var name: String
    public var kind: String
    public var rule: CheckRule
    public var minPassRate: Double?
    /// Which text of the trace the rule reads.
    public var target: CheckTarget = .output

    public init(name: String, kind: String, rule: CheckRule, minPassRate: Double? = nil, target: CheckTarget = .output) {
        self.name = name
        self.kind = kind
        self.rule = rule
        self.minPassRate = minPassRate
        self.target = target
    }

    public func evaluate(_ record: TraceRecord) -> CheckResult? {
        guard let verdict = rule.evaluate(target == .output ? record : target.view(of: record)) else { return nil }
        // A failing detail may quote the output (a schema violation, a regex match, a provider
        // error): it is stored and shown, so whatever PII it holds is masked first.
        let detail = verdict.passed ? verdict.detail : Self.detailRedactor.redact(verdict.detail)
        return CheckResult(name: name, kind: kind, passed: verdict.passed, detail: detail)
    }

    static let detailRedactor = PIIDetector()

    /// Builds a check from its config, reporting every bad parameter with its key.
    /// `readFile` loads schema files (the core does no I/O itself).
    public static func make(_ config: CheckConfig, file: String, readFile: (String) throws -> String) throws(ConfigErrors) -> Check {
        var problems: [ConfigProblem] = []
        func problem(_ key: String, _ message: String) {
            problems.append(ConfigProblem(file: file, line: config.line, key: key.isEmpty ? config.keyPath : "\(config.keyPath).\(key)", message: message))
        }
        let p = config.parameters
        func double(_ key: String) -> Double? {
            guard let value = p[key] else { return nil }
            guard let number = value.double, number.isFinite else { problem(key, "must be a number"); return nil }
            return number
        }
        func int(_ key: String) -> Int? {
            guard let value = double(key) else { return nil }
            guard value >= 0, value == value.rounded() else { problem(key, "must be a whole number >= 0"); return nil }
            return Int(value)
        }
        func bool(_ key: String) -> Bool {
            guard let value = p[key] else { return false }
            switch value.string?.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: problem(key, "must be true or false"); return false
            }
        }
        func strings(_ key: String) -> [String]? {
            guard let value = p[key] else { return nil }
            if let single = value.string { return [single] }
            guard let list = value.list, list.allSatisfy({ $0.string != nil }) else { problem(key, "must be a list of strings"); return nil }
            return list.compactMap(\.string)
        }
        func required<T>(_ key: String, _ value: T?) -> T? {
            if value == nil, p[key] == nil { problem(key, "is required for kind \(config.kind)") }
            return value
        }
        func schema(at path: String, key: String) -> JSONSchema? {
            let text: String
            do { text = try readFile(path) } catch {
                let cocoa = error as? CocoaError
                let reason = cocoa?.code == .fileReadNoSuchFile || cocoa?.code == .fileNoSuchFile ? "it does not exist" : "\(error)"
                problem(key, "cannot read schema file \(path): \(reason)")
                return nil
            }
            do {
                return try JSONSchema(try JSONParser.parse(text))
            } catch let error as JSONParseError {
                problem(key, "schema file \(path) is not valid JSON: \(error)")
            } catch let error as JSONSchemaError {
                problem(key, "schema file \(path) is not a valid schema: \(error)")
            } catch {
                problem(key, "schema file \(path): \(error)")
            }
            return nil
        }

        var rule: CheckRule?
        switch config.kind {
        case "status_ok":
            rule = .statusOK
        case "json_valid":
            rule = .jsonValid(allowFenced: bool("allow_fenced"))
        case "json_schema":
            let fenced = bool("allow_fenced")
            if let path = required("schema", p["schema"]?.string), let compiled = schema(at: path, key: "schema") {
                rule = .jsonSchema(compiled, file: path, allowFenced: fenced)
            }
        case "regex", "not_regex":
            if let pattern = required("pattern", p["pattern"]?.string) {
                do {
                    rule = .regex(RegexBox([try NSRegularExpression(pattern: pattern)]), pattern: pattern, mustMatch: config.kind == "regex")
                } catch {
                    problem("pattern", "\"\(pattern)\" is not a valid ICU regular expression")
                }
            }
        case "contains", "not_contains":
            if let values = required("values", strings("values")) {
                if values.isEmpty { problem("values", "must not be empty") }
                rule = .contains(values, ignoreCase: bool("ignore_case"), mustContain: config.kind == "contains")
            }
        case "length":
            let min = int("min"), max = int("max")
            if min == nil, max == nil, p["min"] == nil, p["max"] == nil { problem("max", "give min, max or both") }
            if let min, let max, min > max { problem("min", "min \(min) is greater than max \(max)") }
            rule = .length(min: min, max: max)
        case "latency":
            if let max = required("max_ms", double("max_ms")) { rule = .latency(maxMs: max) }
        case "cost":
            if let max = required("max_usd", double("max_usd")) { rule = .cost(maxUSD: max) }
        case "tokens":
            let output = int("max_output"), input = int("max_input")
            if p["max_output"] == nil, p["max_input"] == nil { problem("max_output", "give max_output, max_input or both") }
            rule = .tokens(maxOutput: output, maxInput: input)
        case "refusal":
            let extra = strings("extra_patterns") ?? []
            do {
                rule = .refusal(try RefusalDetector(extraPatterns: extra))
            } catch {
                problem("extra_patterns", "holds a pattern that is not a valid ICU regular expression")
            }
        case "pii":
            var kinds = Set(PIIKind.allCases)
            if let names = strings("kinds") {
                kinds = []
                for name in names {
                    if let kind = PIIKind(rawValue: name) {
                        kinds.insert(kind)
                    } else {
                        problem("kinds", "unknown PII kind \"\(name)\"; known kinds: \(PIIKind.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                }
            }
            rule = .pii(PIIDetector(kinds: kinds))
        case "tool_calls":
            let allowed = strings("allowed").map(Set.init)
            var schemas: [String: JSONSchema] = [:]
            if let value = p["schemas"] {
                if let map = value.map {
                    for (tool, path) in map {
                        guard let path = path.string else { problem("schemas.\(tool)", "must be a schema file path"); continue }
                        if let compiled = schema(at: path, key: "schemas.\(tool)") { schemas[tool] = compiled }
                    }
                } else {
                    problem("schemas", "must map tool names to schema files")
                }
            }
            rule = .toolCalls(allowed: allowed, schemas: schemas)
        case "reference_match":
            let mode = p["mode"]?.string ?? "exact"
            if mode != "exact", mode != "f1" { problem("mode", "must be exact or f1") }
            let minF1 = double("min_f1") ?? 0.8
            if !(0...1).contains(minF1) { problem("min_f1", "must be between 0 and 1") }
            rule = .referenceMatch(exact: mode == "exact", minF1: minF1)
        case "system_prompt_leak":
            let minTokens = int("min_tokens") ?? 20
            if minTokens < 3 { problem("min_tokens", "must be at least 3: shorter runs are common phrases, not a leak") }
            rule = .systemPromptLeak(minTokens: minTokens)
        case "canary":
            if let values = required("values", strings("values")) {
                if values.isEmpty || values.contains(where: { $0.count < 8 }) {
                    problem("values", "each canary must be at least 8 characters, so that it cannot occur by chance")
                }
                rule = .canary(values)
            }
        case "injection":
            rule = .injection(InjectionDetector())
        default:
            problem("kind", "unknown check kind \"\(config.kind)\"")
        }
        var target = CheckTarget.output
        if let text = p["target"] {
            if let value = text.string.flatMap(CheckTarget.init(rawValue:)) {
                target = value
            } else {
                problem("target", "must be one of \(CheckTarget.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if target != .output, !CheckTarget.kindsWithTargets.contains(config.kind) {
                problem("target", "kind \(config.kind) checks the output only")
            }
        }
        guard problems.isEmpty, let rule else { throw ConfigErrors(problems) }
        return Check(name: config.name, kind: config.kind, rule: rule, minPassRate: config.minPassRate, target: target)
    }
}
