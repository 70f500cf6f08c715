import Foundation

/// One LLM call as evald sees it, whatever format it came in (native record or OTLP span).
public struct TraceRecord: Sendable, Equatable {
    public struct Message: Sendable, Equatable {
        public var role: String
        public var content: String
        public init(role: String, content: String) { self.role = role; self.content = content }
    }

    public struct ToolCall: Sendable, Equatable {
        public var name: String
        /// The arguments as the model wrote them (a JSON string, which may be invalid JSON).
        public var arguments: String
        public init(name: String, arguments: String) { self.name = name; self.arguments = arguments }
    }

    public enum Status: String, Sendable { case ok, error }

    /// `trace_id` for native records, `traceId:spanId` for OTLP spans.
    public var recordID: String
    public var traceID: String
    public var timestamp: Date
    public var route: String?
    public var tenant: String?
    public var provider: String?
    public var model: String
    public var responseModel: String?
    public var systemFingerprint: String?
    public var promptVersion: String?
    public var input: [Message]
    public var output: String?
    public var toolCalls: [ToolCall]
    public var inputTokens: Int?
    public var outputTokens: Int?
    public var latencyMs: Double?
    public var costUSD: Double?
    public var status: Status
    public var error: String?
    public var finishReason: String?
    public var reference: String?
    /// `"up"` = 1, `"down"` = 0, or the number given.
    public var feedback: Double?

    public init(recordID: String, traceID: String, timestamp: Date, model: String) {
        self.recordID = recordID
        self.traceID = traceID
        self.timestamp = timestamp
        self.model = model
        self.input = []
        self.toolCalls = []
        self.status = .ok
    }

    /// Whether the record carries message content a judge could grade.
    public var hasContent: Bool { output != nil || !input.isEmpty }
}
