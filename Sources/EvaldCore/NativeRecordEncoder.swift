import Foundation

/// Writes a record as a native record: how records that came from OTLP spans are
/// stored, so everything downstream (checks, judges, `explain`) reads one format.
public enum NativeRecordEncoder {
    public static func json(_ r: TraceRecord) -> String {
        var members: [(String, JSONValue)] = [
            ("trace_id", .string(r.traceID)),
            ("record_id", .string(r.recordID)),
            ("timestamp", .string(RFC3339.format(r.timestamp))),
            ("route", .optional(r.route)),
            ("tenant", .optional(r.tenant)),
            ("provider", .optional(r.provider)),
            ("model", .string(r.model)),
            ("response_model", .optional(r.responseModel)),
            ("system_fingerprint", .optional(r.systemFingerprint)),
            ("prompt_version", .optional(r.promptVersion)),
            ("input", .array(r.input.map { .object([("role", .string($0.role)), ("content", .string($0.content))]) })),
            ("output", .optional(r.output)),
            ("tool_calls", .array(r.toolCalls.map { .object([("name", .string($0.name)), ("arguments", .string($0.arguments))]) })),
        ]
        var usage: [(String, JSONValue)] = []
        if let tokens = r.inputTokens { usage.append(("input_tokens", .int(Int64(tokens)))) }
        if let tokens = r.outputTokens { usage.append(("output_tokens", .int(Int64(tokens)))) }
        members.append(("usage", usage.isEmpty ? .null : .object(usage)))
        members += [
            ("latency_ms", .optional(r.latencyMs)),
            ("cost_usd", .optional(r.costUSD)),
            ("status", .string(r.status.rawValue)),
            ("error", .optional(r.error)),
            ("finish_reason", .optional(r.finishReason)),
            ("reference", .optional(r.reference)),
            ("feedback", .optional(r.feedback)),
        ]
        return JSONValue.object(members).serialized()
    }
}
