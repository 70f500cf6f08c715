import EvaldCore
import EvaldStore
import Foundation

/// What `evald explain EVALUATION` shows: the trace, each check's verdict with its detail,
/// each judge's score and reason (or its error and the start of its reply), and what still
/// waits for a judge — enough for on-call to act without opening the database.
public struct EvaluationExplanation: Sendable {
    public var evaluation: EvaluationDetail
    public var record: TraceRecord?
    public var checks: [CheckResult]
    public var verdicts: [JudgeVerdictRecord]
    public var queued: [QueuedJudgement]
    /// The rubrics loaded now, for each verdict's scale: a pass/fail judge shows pass or fail, a
    /// numeric one its score on its scale. A verdict whose rubric (identity) is no longer on
    /// disk takes the scale of the rubric of the same name only when its stored score and
    /// verdict agree with that scale and pass mark; else it shows its bare score.
    public var rubrics: [JudgeRubric]

    /// Text excerpts are cut here in the text view; `--json` carries them whole.
    static let excerptLength = 300

    public static func gather(store: StateStore, evaluationID: Int64, rubrics: [JudgeRubric] = []) throws -> EvaluationExplanation? {
        guard let evaluation = try store.evaluationDetail(id: evaluationID) else { return nil }
        let record = (try? JSONParser.parse(evaluation.recordJSON)).flatMap { try? NativeRecordDecoder.decode($0) }
        return EvaluationExplanation(
            evaluation: evaluation, record: record,
            checks: try store.checkResults(evaluationID: evaluationID),
            verdicts: try store.judgeVerdicts(evaluationID: evaluationID),
            queued: try store.queuedJudgements(evaluationID: evaluationID), rubrics: rubrics)
    }

    /// The scale and pass mark a verdict was given on, when a loaded rubric tells it.
    public func scale(of verdict: JudgeVerdictRecord) -> (scale: JudgeScale, passAt: Double)? {
        if let rubric = rubrics.first(where: { $0.identity == verdict.identity }) { return (rubric.scale, rubric.passAt) }
        guard let rubric = rubrics.first(where: { $0.name == verdict.judgeName }),
            case .scored(let score, let passed, _) = verdict.outcome
        else { return nil }
        switch rubric.scale {
        case .passFail:
            guard score == 0 || score == 1, passed == (score == 1) else { return nil }
        case .numeric(let min, let max):
            guard (min...max).contains(score), passed == rubric.passes(score: score) else { return nil }
        }
        return (rubric.scale, rubric.passAt)
    }

    /// `pass_fail`, or `{"min": 1, "max": 5}`; null when no loaded rubric tells.
    static func scaleJSON(_ scale: JudgeScale?) -> JSONValue {
        switch scale {
        case nil: return .null
        case .passFail: return .string("pass_fail")
        case .numeric(let min, let max)?: return .object([("min", .double(min)), ("max", .double(max))])
        }
    }

    public var failed: Bool {
        checks.contains { !$0.passed } || verdicts.contains { if case .scored(_, false, _) = $0.outcome { return true } else { return false } }
    }

    var lastUserMessage: String? { record?.input.last { $0.role == "user" }?.content }

    public var json: JSONValue {
        let e = evaluation
        return .object([
            ("id", .int(e.id)),
            ("trace_id", .string(e.traceID)),
            ("record_id", .string(e.recordID)),
            ("timestamp", .string(RFC3339.format(e.timestamp))),
            ("route", .optional(e.route)),
            ("model", .string(e.model)),
            ("response_model", .optional(e.responseModel)),
            ("system_fingerprint", .optional(e.systemFingerprint)),
            ("prompt_version", .optional(e.promptVersion)),
            ("status", .string(e.status)),
            ("error", .optional(e.error)),
            ("latency_ms", .optional(e.latencyMs)),
            ("cost_usd", .optional(e.costUSD)),
            ("sample_rate", .double(e.sampleRate)),
            ("source", .object([("file", .optional(e.filePath)), ("offset", .int(e.lineOffset))])),
            ("last_user_message", .optional(lastUserMessage)),
            ("output", .optional(record?.output)),
            ("failed", .bool(failed)),
            (
                "checks",
                .array(
                    checks.map { c in
                        .object([("name", .string(c.name)), ("kind", .string(c.kind)), ("passed", .bool(c.passed)), ("detail", .string(c.detail))])
                    })
            ),
            (
                "judges",
                .array(
                    verdicts.map { v in
                        var fields: [(String, JSONValue)] = [("judge", .string(v.identity)), ("name", .string(v.judgeName)), ("endpoint", .string(v.endpoint))]
                        let scale = scale(of: v)
                        fields += [("scale", Self.scaleJSON(scale?.scale)), ("pass_at", scale.map { .double($0.passAt) } ?? .null)]
                        switch v.outcome {
                        case .scored(let score, let passed, let reason):
                            fields += [("score", .double(score)), ("passed", .bool(passed)), ("reason", .optional(reason)), ("judge_error", .null)]
                        case .failed(let kind, let message, let excerpt):
                            fields += [
                                ("score", .null), ("passed", .null), ("reason", .null),
                                ("judge_error", .object([("kind", .string(kind)), ("message", .string(message)), ("reply_excerpt", .optional(excerpt))])),
                            ]
                        }
                        fields += [("judge_model", .optional(v.judgeModel)), ("judged_at", .string(RFC3339.format(v.judgedAt, fractional: false)))]
                        return .object(fields)
                    })
            ),
            (
                "queued_judges",
                .array(
                    queued.map { q in
                        .object([
                            ("name", .string(q.judgeName)), ("queued_at", .string(RFC3339.format(q.enqueuedAt, fractional: false))),
                            ("attempts", .int(Int64(q.attempts))), ("last_error", .optional(q.lastError)),
                        ])
                    })
            ),
        ])
    }

    public var text: String {
        func cut(_ s: String) -> String {
            let flat = s.replacingOccurrences(of: "\n", with: " ")
            return flat.count > Self.excerptLength ? String(flat.prefix(Self.excerptLength)) + "…" : flat
        }
        let e = evaluation
        var lines = ["evaluation \(e.id): trace \(e.traceID)" + (e.recordID != e.traceID ? " (record \(e.recordID))" : "")]
        lines.append(
            "  time:    \(RFC3339.format(e.timestamp))   route: \(e.route ?? "-")   model: \(e.model)"
                + (e.responseModel.map { " (answered by \($0)\(e.systemFingerprint.map { ", \($0)" } ?? ""))" } ?? ""))
        var call = "  call:    status \(e.status)"
        if let error = e.error { call += " (\(cut(error)))" }
        if let latency = e.latencyMs { call += ", \(Int(latency.rounded())) ms" }
        if let cost = e.costUSD { call += String(format: ", $%.5f", cost) }
        if let version = e.promptVersion { call += ", prompt \(version)" }
        lines.append(call + ", sampled at rate \(e.sampleRate)")
        if let file = e.filePath { lines.append("  source:  \(file) at byte \(e.lineOffset)") }
        if let user = lastUserMessage { lines.append("  user:    \(cut(user))") }
        if let output = record?.output { lines.append("  output:  \(cut(output))") }
        lines.append("checks:" + (checks.isEmpty ? " none configured for this route" : ""))
        // Failures first: they are why on-call is looking.
        for c in checks.filter({ !$0.passed }) + checks.filter(\.passed) {
            lines.append("  \(c.passed ? "pass" : "FAIL") \(c.name) (\(c.kind))" + (c.detail.isEmpty ? "" : ": \(cut(c.detail))"))
        }
        lines.append("judges:" + (verdicts.isEmpty && queued.isEmpty ? " none (no judge applies, or judges are not configured: evald status)" : ""))
        for v in verdicts {
            switch v.outcome {
            case .scored(let score, let passed, let reason):
                let verdict: String
                switch scale(of: v) {
                case (.passFail, _)?: verdict = passed ? "pass (pass/fail judge)" : "fail (pass/fail judge)"
                case (.numeric(let min, let max), let passAt)?:
                    verdict =
                        "score \(NumberText.compact(score)) on \(NumberText.compact(min))-\(NumberText.compact(max)), passes at \(NumberText.compact(passAt))"
                case nil: verdict = "score \(NumberText.compact(score))"
                }
                lines.append("  \(passed ? "pass" : "FAIL") \(v.identity): \(verdict)" + (reason.map { ": \(cut($0))" } ?? ""))
            case .failed(let kind, let message, let excerpt):
                lines.append("  ERROR \(v.identity): judge_error \(kind): \(cut(message))" + (excerpt.map { "; reply began: \"\(cut($0))\"" } ?? ""))
            }
        }
        for q in queued {
            lines.append(
                "  queued \(q.judgeName) since \(RFC3339.format(q.enqueuedAt, fractional: false))"
                    + (q.attempts > 0 ? ", \(q.attempts) attempt(s), last error \(q.lastError ?? "?")" : ""))
        }
        return lines.joined(separator: "\n")
    }
}
