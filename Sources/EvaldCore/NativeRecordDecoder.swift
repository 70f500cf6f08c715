import Foundation

/// Decodes a native record (SPEC 2.1) from a parsed JSON object.
public enum NativeRecordDecoder {
    public static func decode(_ object: [String: Any]) throws(LineProblem) -> TraceRecord {
        guard let rawID = object["trace_id"] else { throw missingField("trace_id") }
        guard let traceID = rawID as? String, !traceID.isEmpty else {
            throw LineProblem(.invalidField, "\"trace_id\" must be a non-empty string")
        }
        guard let rawTimestamp = object["timestamp"], !(rawTimestamp is NSNull) else {
            throw missingField("timestamp")
        }
        let timestamp = try decodeTimestamp(rawTimestamp)
        guard let rawModel = object["model"], !(rawModel is NSNull) else {
            throw missingField("model")
        }
        guard let model = rawModel as? String, !model.isEmpty else {
            throw LineProblem(.invalidField, "\"model\" must be a non-empty string")
        }
        var record = TraceRecord(recordID: traceID, traceID: traceID, timestamp: timestamp, model: model)
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
        if record.output == nil, record.status != .error {
            throw missingField("output")
        }
        record.input = try decodeInput(object["input"])
        record.toolCalls = try decodeToolCalls(object["tool_calls"])
        if let usage = object["usage"], !(usage is NSNull) {
            guard let usage = usage as? [String: Any] else { throw LineProblem(.invalidField, "\"usage\" must be an object") }
            // OpenAI's older names are accepted too.
            let prompt = try optionalInt(usage, "prompt_tokens", in: "usage")
            let completion = try optionalInt(usage, "completion_tokens", in: "usage")
            record.inputTokens = try optionalInt(usage, "input_tokens", in: "usage") ?? prompt
            record.outputTokens = try optionalInt(usage, "output_tokens", in: "usage") ?? completion
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

    static func decodeTimestamp(_ value: Any) throws(LineProblem) -> Date {
        if let text = value as? String {
            guard let date = RFC3339.parse(text) else {
                throw LineProblem(.invalidField, "\"timestamp\" \"\(text.prefix(40))\" is not RFC 3339 (e.g. 2026-11-28T10:00:00.123Z)")
            }
            return date
        }
        if let number = value as? NSNumber, !isBool(number) {
            return Date(timeIntervalSince1970: number.doubleValue)
        }
        throw LineProblem(.invalidField, "\"timestamp\" must be an RFC 3339 string or Unix seconds")
    }

    static func decodeInput(_ value: Any?) throws(LineProblem) -> [TraceRecord.Message] {
        guard let value, !(value is NSNull) else { return [] }
        if let text = value as? String { return [.init(role: "user", content: text)] }
        guard let items = value as? [Any] else {
            throw LineProblem(.invalidField, "\"input\" must be a string or an array of {role, content} messages")
        }
        var messages: [TraceRecord.Message] = []
        for (index, item) in items.enumerated() {
            guard let message = item as? [String: Any] else {
                throw LineProblem(.invalidField, "\"input[\(index)]\" must be an object with \"role\" and \"content\"")
            }
            let role = message["role"] as? String ?? "user"
            messages.append(.init(role: role, content: contentText(message["content"])))
        }
        return messages
    }

    /// Message content may be a string or an array of parts (`{"type": "text", "text": ...}`).
    static func contentText(_ value: Any?) -> String {
        if let text = value as? String { return text }
        if let parts = value as? [Any] {
            return parts.compactMap { part -> String? in
                if let text = part as? String { return text }
                guard let part = part as? [String: Any] else { return nil }
                return (part["text"] ?? part["content"]) as? String
            }.joined(separator: "\n")
        }
        return ""
    }

    static func decodeToolCalls(_ value: Any?) throws(LineProblem) -> [TraceRecord.ToolCall] {
        guard let value, !(value is NSNull) else { return [] }
        guard let items = value as? [Any] else { throw LineProblem(.invalidField, "\"tool_calls\" must be an array") }
        var calls: [TraceRecord.ToolCall] = []
        for (index, item) in items.enumerated() {
            guard let call = item as? [String: Any] else { throw LineProblem(.invalidField, "\"tool_calls[\(index)]\" must be an object") }
            // OpenAI nests name and arguments under "function".
            let body = call["function"] as? [String: Any] ?? call
            guard let name = body["name"] as? String else {
                throw LineProblem(.invalidField, "\"tool_calls[\(index)].name\" must be a string")
            }
            calls.append(.init(name: name, arguments: jsonText(body["arguments"])))
        }
        return calls
    }

    static func jsonText(_ value: Any?) -> String {
        guard let value, !(value is NSNull) else { return "" }
        if let text = value as? String { return text }
        guard JSONSerialization.isValidJSONObject(value),
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else { return "\(value)" }
        return String(decoding: data, as: UTF8.self)
    }

    static func decodeFeedback(_ value: Any?) throws(LineProblem) -> Double? {
        guard let value, !(value is NSNull) else { return nil }
        if let text = value as? String {
            switch text.lowercased() {
            case "up", "thumbs_up", "positive": return 1
            case "down", "thumbs_down", "negative": return 0
            default: throw LineProblem(.invalidField, "\"feedback\" must be \"up\", \"down\" or a number")
            }
        }
        if let number = value as? NSNumber, !isBool(number) { return number.doubleValue }
        throw LineProblem(.invalidField, "\"feedback\" must be \"up\", \"down\" or a number")
    }

    static func optionalString(_ object: [String: Any], _ key: String) throws(LineProblem) -> String? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw LineProblem(.invalidField, "\"\(key)\" must be a string") }
        return text
    }

    static func optionalNumber(_ object: [String: Any], _ key: String, in parent: String? = nil) throws(LineProblem) -> Double? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, !isBool(number), number.doubleValue.isFinite else {
            let name = parent.map { "\($0).\(key)" } ?? key
            throw LineProblem(.invalidField, "\"\(name)\" must be a number")
        }
        return number.doubleValue
    }

    static func optionalInt(_ object: [String: Any], _ key: String, in parent: String) throws(LineProblem) -> Int? {
        guard let value = try optionalNumber(object, key, in: parent) else { return nil }
        guard value >= 0, value < 1e15 else { throw LineProblem(.invalidField, "\"\(parent).\(key)\" must be a non-negative integer") }
        return Int(value)
    }

    static func isBool(_ number: NSNumber) -> Bool {
        // JSONSerialization hands booleans over as NSNumber with the char type code.
        String(cString: number.objCType) == "c"
    }
}
