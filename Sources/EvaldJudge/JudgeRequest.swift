import EvaldCore

/// One request to a model endpoint: for a judge, the rendered rubric with the trace filled in
/// (one user message); for the golden-set canary, the case's own conversation.
public struct JudgeRequest: Sendable {
    public struct Message: Sendable, Equatable {
        public var role: String
        public var content: String

        public init(role: String, content: String) {
            self.role = role
            self.content = content
        }
    }

    public var messages: [Message]
    public var temperature: Double
    public var maxOutputTokens: Int
    /// Tools offered to the model (a replayed golden case's `tools`); none for a judge.
    public var tools: [ToolDefinition]

    /// The judge's single prompt.
    public var prompt: String { messages.map(\.content).joined(separator: "\n") }

    public init(prompt: String, temperature: Double, maxOutputTokens: Int) {
        self.init(messages: [Message(role: "user", content: prompt)], temperature: temperature, maxOutputTokens: maxOutputTokens)
    }

    public init(messages: [Message], temperature: Double, maxOutputTokens: Int, tools: [ToolDefinition] = []) {
        self.messages = messages
        self.temperature = temperature
        self.maxOutputTokens = maxOutputTokens
        self.tools = tools
    }
}
