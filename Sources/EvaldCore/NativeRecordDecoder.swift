import Foundation

/// Decodes a native record from a parsed JSON object.
public enum NativeRecordDecoder {
    public static func decode(_ object: JSONValue) throws(LineProblem) -> TraceRecord {
        guard case .object = object else { throw LineProblem(.notAnObject, "line is JSON but not an object (\(object.typeName))") }
        guard let rawID = present(object["trace_id"]) else { throw missingField("trace_id") }
        guard let traceID = rawID.stringValue, !traceID.isEmpty else {
            throw LineProblem(.invalidField, "\"trace_id\" must be a non-empty string")
        }
        guard let rawTimestamp = present(object["timestamp"]) else { throw missingField("timestamp") }
        let timestamp = try decodeTimestamp(rawTimestamp)
        guard let rawModel = present(object["model"]) else { throw missingField("model") }
        guard let model = rawModel.stringValue, !model.isEmpty else {
            throw LineProblem(.invalidField, "\"model\" must be a non-empty string")
        }
        // `record_id` is written for records that came from OTLP spans (traceId:spanId).
        let recordID = object["record_id"]?.stringValue ?? traceID
        var record = TraceRecord(recordID: recordID, traceID: traceID, timestamp: timestamp, model: model)
        record.route = try optionalString(object, "route")
        record.tenant = try optionalString(object, "tenant")
        record.provider = try optionalString(object, "provider")
        record.responseModel = try optionalString(object, "response_model")
        record.systemFingerprint = try optionalString(object, "system_fingerprint")
        record.promptVersion = try optionalString(object, "prompt_version")
        record.error = try optionalString(object, "error")
        record.finishReason = try optionalString(object, "finish_reason")
        record.reference = try optionalString(object, "reference")

        if let status = try optionalString(object, "status") {
            guard let value = TraceRecord.Status(rawValue: status.lowercased()) else {
                throw LineProblem(.invalidField, "\"status\" must be \"ok\" or \"error\", got \"\(status.prefix(40))\"")
            }
            record.status = value
        }
        record.output = try optionalString(object, "output")
        if record.output == nil, record.status != .error { throw missingField("output") }
        record.input = try decodeInput(object["input"])
        record.toolCalls = try decodeToolCalls(object["tool_calls"])
        if let usage = present(object["usage"]) {
            guard case .object = usage else { throw LineProblem(.invalidField, "\"usage\" must be an object") }
            // OpenAI's older names are accepted too.
            let prompt = try optionalCount(usage, "prompt_tokens", in: "usage")
            let completion = try optionalCount(usage, "completion_tokens", in: "usage")
            record.inputTokens = try optionalCount(usage, "input_tokens", in: "usage") ?? prompt
            record.outputTokens = try optionalCount(usage, "output_tokens", in: "usage") ?? completion
        }
        record.latencyMs = try optionalNumber(object, "latency_ms")
        record.costUSD = try optionalNumber(object, "cost_usd")
        record.feedback = try decodeFeedback(object["feedback"])
        return record
    }

    public static func missingField(_ name: String) -> LineProblem {
        let note = name == "output" ? " (only records with \"status\": \"error\" may omit it)" : ""
        return LineProblem(.missingField, "missing required field \"\(name)\"\(note)")
    }

    /// A member that is there and not null.
    static func present(_ value: JSONValue?) -> JSONValue? {
        guard let value, !value.isNull else { return nil }
        return value
    }

    static func decodeTimestamp(_ value: JSONValue) throws(LineProblem) -> Date {
        if let text = value.stringValue {
            guard let date = RFC3339.parse(text) else {
                throw LineProblem(.invalidField, "\"timestamp\" \"\(text.prefix(40))\" is not RFC 3339 (e.g. 2026-11-28T10:00:00.123Z)")
            }
            return date
        }
        // Unix seconds between 1970 and 2200: anything else is a unit mistake (ms, ns) or garbage.
        if let seconds = value.numberValue {
            guard seconds.isFinite, seconds >= 0, seconds < 7_258_118_400 else {
                throw LineProblem(.invalidField, "\"timestamp\" \(seconds) is not Unix seconds between 1970 and 2200 (milliseconds or nanoseconds?)")
            }
            return Date(timeIntervalSince1970: seconds)
        }
        throw LineProblem(.invalidField, "\"timestamp\" must be an RFC 3339 string or Unix seconds, not \(value.typeName)")
    }

    static func decodeInput(_ value: JSONValue?) throws(LineProblem) -> [TraceRecord.Message] {
        guard let value = present(value) else { return [] }
        if let text = value.stringValue { return [.init(role: "user", content: text)] }
        guard let items = value.arrayValue else {
            throw LineProblem(.invalidField, "\"input\" must be a string or an array of {role, content} messages")
        }
        var messages: [TraceRecord.Message] = []
        messages.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            guard case .object = item else {
                throw LineProblem(.invalidField, "\"input[\(index)]\" must be an object with \"role\" and \"content\"")
            }
            messages.append(.init(role: item["role"]?.stringValue ?? "user", content: contentText(item["content"])))
        }
        return messages
    }

    /// Message content may be a string or an array of parts (`{"type": "text", "text": ...}`).
    static func contentText(_ value: JSONValue?) -> String {
        guard let value else { return "" }
        if let text = value.stringValue { return text }
        guard let parts = value.arrayValue else { return "" }
        return parts.compactMap { part in part.stringValue ?? (part["text"] ?? part["content"])?.stringValue }.joined(separator: "\n")
    }

    static func decodeToolCalls(_ value: JSONValue?) throws(LineProblem) -> [TraceRecord.ToolCall] {
        guard let value = present(value) else { return [] }
        guard let items = value.arrayValue else { throw LineProblem(.invalidField, "\"tool_calls\" must be an array") }
        var calls: [TraceRecord.ToolCall] = []
        for (index, item) in items.enumerated() {
            guard case .object = item else { throw LineProblem(.invalidField, "\"tool_calls[\(index)]\" must be an object") }
            // OpenAI nests name and arguments under "function".
            let body = item["function"].flatMap { if case .object = $0 { $0 } else { nil } } ?? item
            guard let name = body["name"]?.stringValue else {
                throw LineProblem(.invalidField, "\"tool_calls[\(index)].name\" must be a string")
            }
            calls.append(.init(name: name, arguments: argumentsText(body["arguments"])))
        }
        return calls
    }

    /// Arguments as the model wrote them: a JSON string as is, structured arguments serialized.
    static func argumentsText(_ value: JSONValue?) -> String {
        guard let value = present(value) else { return "" }
        return value.stringValue ?? value.serialized()
    }

    static func decodeFeedback(_ value: JSONValue?) throws(LineProblem) -> Double? {
        guard let value = present(value) else { return nil }
        if let text = value.stringValue {
            switch text.lowercased() {
            case "up", "thumbs_up", "positive": return 1
            case "down", "thumbs_down", "negative": return 0
            default: break
            }
        } else if let number = value.numberValue {
            return number
        }
        throw LineProblem(.invalidField, "\"feedback\" must be \"up\", \"down\" or a number")
    }

    static func optionalString(_ object: JSONValue, _ key: String) throws(LineProblem) -> String? {
        guard let value = present(object[key]) else { return nil }
        guard let text = value.stringValue else { throw LineProblem(.invalidField, "\"\(key)\" must be a string, not \(value.typeName)") }
        return text
    }

    static func optionalNumber(_ object: JSONValue, _ key: String, in parent: String? = nil) throws(LineProblem) -> Double? {
        guard let value = present(object[key]) else { return nil }
        guard let number = value.numberValue, number.isFinite else {
            let name = parent.map { "\($0).\(key)" } ?? key
            throw LineProblem(.invalidField, "\"\(name)\" must be a number, not \(value.typeName)")
        }
        return number
    }

    static func optionalCount(_ object: JSONValue, _ key: String, in parent: String) throws(LineProblem) -> Int? {
        guard let value = try optionalNumber(object, key, in: parent) else { return nil }
        guard value >= 0, value < 1e15 else { throw LineProblem(.invalidField, "\"\(parent).\(key)\" must be a non-negative integer") }
        return Int(value)
    }
}
