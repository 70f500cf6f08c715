/// The values a rubric's template can use, taken from one trace.
///
/// Values that are absent in the trace (no reference, no tool call, no user message) are empty
/// strings; they render as nothing and are false in a section, so `{{#reference}}...{{/reference}}`
/// shows a block only when the trace has one.
public struct JudgePromptVariables: Sendable, Equatable {
    /// The input messages as `role: content` lines.
    public var inputText: String
    public var lastUserMessage: String
    public var output: String
    public var reference: String
    public var route: String
    public var model: String
    /// A JSON array of `{"name": ..., "arguments": ...}`; `[]` when the model called no tool.
    public var toolCalls: String
    public var metadata: [String: String]

    /// The template's names for them. `metadata.KEY` is the one family of dotted names.
    public static let names = ["input_text", "last_user_message", "output", "reference", "route", "model", "tool_calls"]
    /// Names that carry the trace's content: a prompt that uses none of them grades nothing.
    static let contentNames: Set<String> = ["input_text", "last_user_message", "output", "tool_calls"]

    public init(
        inputText: String, lastUserMessage: String, output: String, reference: String, route: String, model: String,
        toolCalls: String, metadata: [String: String]
    ) {
        self.inputText = inputText
        self.lastUserMessage = lastUserMessage
        self.output = output
        self.reference = reference
        self.route = route
        self.model = model
        self.toolCalls = toolCalls
        self.metadata = metadata
    }

    /// The variables: input_text (messages as "role: content" lines), last_user_message, output, reference, route, model,
    /// tool_calls (JSON array string of {"name","arguments"}), metadata.KEY.
    ///
    /// `metadata` comes beside the record because the record does not keep the trace's free-form
    /// metadata; the caller passes what it stored (or nothing).
    public init(record: TraceRecord, metadata: [String: String]) {
        self.init(
            inputText: record.input.map { "\($0.role): \($0.content)" }.joined(separator: "\n"),
            lastUserMessage: record.input.last { $0.role == "user" }?.content ?? "",
            output: record.output ?? "",
            reference: record.reference ?? "",
            route: record.route ?? "",
            model: record.model,
            toolCalls: Self.toolCallsJSON(record.toolCalls),
            metadata: metadata)
    }

    /// Arguments that are valid JSON are shown as JSON, so the judge reads `{"order_id": "A-1"}`
    /// rather than an escaped string; invalid ones stay a string, exactly as the model wrote them,
    /// because their invalidity may be what the judge should notice.
    static func toolCallsJSON(_ calls: [TraceRecord.ToolCall]) -> String {
        JSONValue.array(
            calls.map { call in
                let arguments = (try? JSONParser.parse(call.arguments)) ?? .string(call.arguments)
                return .object([("name", .string(call.name)), ("arguments", arguments)])
            }
        ).serialized()
    }

    /// Every value that came from the trace masked with the detector (PIIDetector.redact), for `judge.redact_pii`.
    ///
    /// Route and model name the application, not a person, and stay as they are (a judge may be told
    /// which product it grades).
    public func redacted(by detector: PIIDetector) -> JudgePromptVariables {
        var copy = self
        copy.inputText = detector.redact(inputText)
        copy.lastUserMessage = detector.redact(lastUserMessage)
        copy.output = detector.redact(output)
        copy.reference = detector.redact(reference)
        copy.toolCalls = detector.redact(toolCalls)
        copy.metadata = metadata.mapValues { detector.redact($0) }
        return copy
    }
}
