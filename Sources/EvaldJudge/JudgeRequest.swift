/// One prompt for a judge model: the rendered rubric with the trace filled in.
public struct JudgeRequest: Sendable {
    public var prompt: String
    public var temperature: Double
    public var maxOutputTokens: Int

    public init(prompt: String, temperature: Double, maxOutputTokens: Int) {
        self.prompt = prompt
        self.temperature = temperature
        self.maxOutputTokens = maxOutputTokens
    }
}
