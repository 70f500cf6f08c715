import EvaldCore

/// A judge model's reply, with what the drift detector and the token budget need.
public struct JudgeCompletion: Sendable, Equatable {
    /// The assistant's reply text (not yet parsed as a score).
    public var text: String
    /// From the reply's usage block; 0 when the server sends none (some local servers).
    public var inputTokens: Int
    public var outputTokens: Int
    /// The model that answered as the server names it (often a dated snapshot of the
    /// configured alias): a change here is a provider update.
    public var responseModel: String?
    /// OpenAI's `system_fingerprint`: changes when the serving stack changes.
    public var systemFingerprint: String?
    /// Of the successful attempt only, in milliseconds.
    public var latencyMs: Double
    /// HTTP attempts this call took, the successful one included.
    public var attempts: Int
    /// `finish_reason` (OpenAI) or `stop_reason` (Anthropic): "length"/"max_tokens" means the
    /// reply was cut at `max_output_tokens`, a likely cause of an unparseable reply.
    public var finishReason: String?
    /// The tool calls of the reply (OpenAI `choices[0].message.tool_calls`, Anthropic
    /// `tool_use` blocks): a replayed answer is scored on them too (red-team
    /// `no_forbidden_tool_call`, the `tool_calls` and `canary` checks).
    public var toolCalls: [TraceRecord.ToolCall]

    public init(
        text: String, inputTokens: Int = 0, outputTokens: Int = 0, responseModel: String? = nil,
        systemFingerprint: String? = nil, latencyMs: Double = 0, attempts: Int = 1, finishReason: String? = nil,
        toolCalls: [TraceRecord.ToolCall] = []
    ) {
        self.text = text
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.responseModel = responseModel
        self.systemFingerprint = systemFingerprint
        self.latencyMs = latencyMs
        self.attempts = attempts
        self.finishReason = finishReason
        self.toolCalls = toolCalls
    }
}
