/// The text of a trace a check reads (`target:`).
public enum CheckTarget: String, Sendable, CaseIterable {
    /// The model's answer (the default).
    case output
    /// The last user message: what the user sent this time.
    case input
    /// Every input message, one per line.
    case inputAll = "input_all"
    /// The tool messages among the input: what tools returned to the model.
    case toolResults = "tool_results"

    /// The kinds that read a text and so can read another one than the output.
    public static let kindsWithTargets: Set<String> = [
        "json_valid", "json_schema", "regex", "not_regex", "contains", "not_contains", "length", "refusal", "pii", "canary", "injection",
    ]

    /// The trace as the rule sees it: the targeted text in place of the output. The input
    /// exists whatever the call's outcome, so an error trace is checked too; nothing to read
    /// (no user message, no tool result) leaves no output, and the check does not apply.
    func view(of record: TraceRecord) -> TraceRecord {
        var view = record
        view.status = .ok
        view.toolCalls = []
        switch self {
        case .output: return record
        case .input: view.output = record.input.last { $0.role == "user" }?.content
        case .inputAll: view.output = record.input.isEmpty ? nil : record.input.map(\.content).joined(separator: "\n")
        case .toolResults:
            let results = record.input.filter { $0.role == "tool" }.map(\.content)
            view.output = results.isEmpty ? nil : results.joined(separator: "\n")
        }
        return view
    }
}
