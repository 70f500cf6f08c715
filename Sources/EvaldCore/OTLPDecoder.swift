import Foundation

/// Decodes an OTLP/JSON `TracesData` line (`{"resourceSpans": [...]}`, as the OpenTelemetry
/// Collector's file exporter writes it) into records: every generation of
/// the GenAI semantic conventions is read, newest first.
///
/// Sampling comes before mapping: `decide` is asked with each span's trace id and
/// `traceState` and only kept spans are mapped.
public enum OTLPDecoder {
    public struct Result: Sendable {
        /// Kept spans mapped to records, with their index among the line's spans.
        public var records: [(index: Int, record: TraceRecord, rate: Double)] = []
        /// LLM spans seen (kept or not).
        public var llmSpans = 0
        /// Spans that are not LLM calls.
        public var skippedSpans = 0
        /// What every LLM span adds to usage, kept or not (a span without a start time adds nothing).
        public var usage: [CallUsage] = []
        /// Failed LLM spans outside the sample: stored for `evald traces` whatever the sample says.
        public var failedOutsideSample: [(index: Int, record: TraceRecord)] = []
    }

    static let llmOperations: Set<String> = ["chat", "text_completion", "generate_content"]

    /// `decide(traceID, traceState, route)` returns the sampling rate when the span is kept, nil otherwise.
    public static func decode(_ line: JSONValue, decide: (String, String?, String?) -> Double?) throws(LineProblem) -> Result {
        guard let resourceSpans = line["resourceSpans"]?.arrayValue else {
            throw LineProblem(.invalidField, "\"resourceSpans\" must be an array")
        }
        var result = Result()
        var index = 0
        for resourceSpan in resourceSpans {
            let resource = attributes(resourceSpan["resource"]?["attributes"])
            for scopeSpan in resourceSpan["scopeSpans"]?.arrayValue ?? [] {
                for span in scopeSpan["spans"]?.arrayValue ?? [] {
                    defer { index += 1 }
                    let attrs = attributes(span["attributes"])
                    let operation = attrs["gen_ai.operation.name"]?.stringValue
                    guard operation.map(llmOperations.contains) == true || attrs["gen_ai.request.model"] != nil else {
                        result.skippedSpans += 1
                        continue
                    }
                    result.llmSpans += 1
                    guard let traceID = span["traceId"]?.stringValue, !traceID.isEmpty else {
                        throw LineProblem(.missingField, "span \(index): missing \"traceId\"")
                    }
                    let route = attrs["evald.route"]?.stringValue ?? resource["service.name"]?.stringValue
                    let usage = usage(span: span, attrs: attrs, route: route)
                    if let usage { result.usage.append(usage) }
                    guard let rate = decide(traceID, span["traceState"]?.stringValue, route) else {
                        if usage?.errorClass != nil {
                            result.failedOutsideSample.append((index, try record(span: span, attrs: attrs, resource: resource, route: route, traceID: traceID)))
                        }
                        continue
                    }
                    result.records.append((index, try record(span: span, attrs: attrs, resource: resource, route: route, traceID: traceID), rate))
                }
            }
        }
        return result
    }

    /// The usage fields of an LLM span, read as `record` reads them.
    static func usage(span: JSONValue, attrs: [String: JSONValue], route: String?) -> CallUsage? {
        guard let start = nanos(span["startTimeUnixNano"]) else { return nil }
        var latency: Double?
        if let end = nanos(span["endTimeUnixNano"]), end >= start { latency = Double(end - start) / 1e6 }
        let error = errorStatus(span: span, attrs: attrs)
        return CallUsage(
            timestamp: Double(start) / 1e9, route: route, tenant: attrs["evald.tenant"]?.stringValue, model: model(attrs),
            errorClass: error.map { CallUsage.errorClass(of: $0) }, inputTokens: inputTokens(attrs), outputTokens: outputTokens(attrs),
            latencyMs: latency, recordID: span["traceId"]?.stringValue.map { "\($0):\(span["spanId"]?.stringValue ?? "")" })
    }

    static func model(_ attrs: [String: JSONValue]) -> String {
        attrs["gen_ai.request.model"]?.stringValue ?? attrs["gen_ai.response.model"]?.stringValue ?? "unknown"
    }

    static func inputTokens(_ attrs: [String: JSONValue]) -> Int? {
        int(attrs["gen_ai.usage.input_tokens"]) ?? int(attrs["gen_ai.usage.prompt_tokens"])
    }

    static func outputTokens(_ attrs: [String: JSONValue]) -> Int? {
        int(attrs["gen_ai.usage.output_tokens"]) ?? int(attrs["gen_ai.usage.completion_tokens"])
    }

    /// The error message of a failed span (status code 2, or an `error.type`), nil when it succeeded.
    static func errorStatus(span: JSONValue, attrs: [String: JSONValue]) -> String? {
        if int(span["status"]?["code"]) == 2 {
            return attrs["error.type"]?.stringValue ?? span["status"]?["message"]?.stringValue ?? "error"
        }
        return attrs["error.type"]?.stringValue
    }

    static func record(
        span: JSONValue, attrs: [String: JSONValue], resource: [String: JSONValue], route: String?, traceID: String
    ) throws(LineProblem) -> TraceRecord {
        let spanID = span["spanId"]?.stringValue ?? ""
        guard let start = nanos(span["startTimeUnixNano"]) else {
            throw LineProblem(.missingField, "span \(spanID): missing \"startTimeUnixNano\"")
        }
        var record = TraceRecord(
            recordID: "\(traceID):\(spanID)", traceID: traceID, timestamp: Date(timeIntervalSince1970: Double(start) / 1e9), model: model(attrs))
        if let end = nanos(span["endTimeUnixNano"]), end >= start { record.latencyMs = Double(end - start) / 1e6 }
        record.route = route
        record.provider = attrs["gen_ai.provider.name"]?.stringValue ?? attrs["gen_ai.system"]?.stringValue
        record.responseModel = attrs["gen_ai.response.model"]?.stringValue
        record.systemFingerprint = attrs["openai.response.system_fingerprint"]?.stringValue ?? attrs["gen_ai.openai.response.system_fingerprint"]?.stringValue
        record.promptVersion = attrs["evald.prompt_version"]?.stringValue ?? resource["service.version"]?.stringValue
        record.tenant = attrs["evald.tenant"]?.stringValue
        record.inputTokens = inputTokens(attrs)
        record.outputTokens = outputTokens(attrs)
        // The anthropic SDK's own spans carry only the provider's stop reason.
        record.finishReason =
            attrs["gen_ai.response.finish_reasons"]?.arrayValue?.first?.stringValue
            ?? attrs["anthropic.message.stop_reason"]?.stringValue
        if let error = errorStatus(span: span, attrs: attrs) {
            record.status = .error
            record.error = error
        }
        let events = (span["events"]?.arrayValue ?? []).map { ($0["name"]?.stringValue ?? "", attributes($0["attributes"]), $0["body"]) }
        readContent(into: &record, attrs: attrs, events: events)
        return record
    }

    /// Messages and output, newest convention first.
    static func readContent(into record: inout TraceRecord, attrs: [String: JSONValue], events: [(String, [String: JSONValue], JSONValue?)]) {
        // 1.37+: attributes holding JSON strings or structured arrays.
        if attrs["gen_ai.input.messages"] != nil || attrs["gen_ai.output.messages"] != nil || attrs["gen_ai.system_instructions"] != nil {
            if let instructions = structured(attrs["gen_ai.system_instructions"]) {
                let text = partsText(instructions.arrayValue ?? [instructions])
                if !text.isEmpty { record.input.append(.init(role: "system", content: text)) }
            }
            for message in structured(attrs["gen_ai.input.messages"])?.arrayValue ?? [] {
                record.input.append(.init(role: message["role"]?.stringValue ?? "user", content: partsText(message["parts"]?.arrayValue ?? [])))
            }
            var outputs: [String] = []
            for message in structured(attrs["gen_ai.output.messages"])?.arrayValue ?? [] {
                let parts = message["parts"]?.arrayValue ?? []
                outputs.append(partsText(parts))
                for part in parts where part["type"]?.stringValue == "tool_call" {
                    record.toolCalls.append(.init(name: part["name"]?.stringValue ?? "", arguments: argumentsText(part["arguments"])))
                }
                if record.finishReason == nil { record.finishReason = message["finish_reason"]?.stringValue }
            }
            if attrs["gen_ai.output.messages"] != nil { record.output = outputs.joined(separator: "\n") }
            return
        }
        // 1.28-1.36: one event a message, and gen_ai.choice for the answer.
        let roles = ["gen_ai.system.message": "system", "gen_ai.user.message": "user", "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"]
        var sawChoice = false
        for (name, eventAttrs, body) in events {
            if let role = roles[name] {
                let content = eventAttrs["content"].flatMap(contentText) ?? body.flatMap { contentText($0["content"] ?? $0) } ?? ""
                record.input.append(.init(role: role, content: content))
            } else if name == "gen_ai.choice" {
                sawChoice = true
                let message = structured(eventAttrs["message"]) ?? body?["message"] ?? body
                let content = message.flatMap { $0["content"].flatMap(contentText) } ?? eventAttrs["content"].flatMap(contentText) ?? ""
                record.output = [record.output, content].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "\n")
                for call in message?["tool_calls"]?.arrayValue ?? [] {
                    let function = call["function"] ?? call
                    record.toolCalls.append(.init(name: function["name"]?.stringValue ?? "", arguments: argumentsText(function["arguments"])))
                }
                if record.finishReason == nil {
                    record.finishReason = eventAttrs["finish_reason"]?.stringValue ?? body?["finish_reason"]?.stringValue
                }
            }
        }
        if sawChoice || !record.input.isEmpty { return }
        // Up to 1.27: prompt and completion events holding JSON message lists.
        for (name, eventAttrs, _) in events {
            if name == "gen_ai.content.prompt", let prompt = structured(eventAttrs["gen_ai.prompt"]) {
                for message in prompt.arrayValue ?? [] {
                    record.input.append(.init(role: message["role"]?.stringValue ?? "user", content: contentText(message["content"] ?? .null) ?? ""))
                }
                if let text = prompt.stringValue { record.input.append(.init(role: "user", content: text)) }
            } else if name == "gen_ai.content.completion", let completion = structured(eventAttrs["gen_ai.completion"]) {
                let messages = completion.arrayValue ?? [completion]
                record.output = messages.compactMap { $0.stringValue ?? $0["content"].flatMap(contentText) }.joined(separator: "\n")
            }
        }
    }

    // MARK: OTLP/JSON values

    /// `[{key, value: AnyValue}]` as a dictionary of plain JSON values.
    static func attributes(_ list: JSONValue?) -> [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        for item in list?.arrayValue ?? [] {
            guard let key = item["key"]?.stringValue else { continue }
            result[key] = anyValue(item["value"])
        }
        return result
    }

    /// OTLP's AnyValue: exactly one of stringValue, intValue (a decimal string or a number),
    /// doubleValue, boolValue, arrayValue {values}, kvlistValue {values: [{key, value}]}.
    static func anyValue(_ value: JSONValue?) -> JSONValue {
        guard let value else { return .null }
        if let s = value["stringValue"] { return s }
        if let i = value["intValue"] { return i.stringValue.flatMap { Int64($0) }.map(JSONValue.int) ?? i }
        if let d = value["doubleValue"] { return d.stringValue.flatMap(Double.init).map(JSONValue.double) ?? d }
        if let b = value["boolValue"] { return b }
        if let array = value["arrayValue"] { return .array((array["values"]?.arrayValue ?? []).map { anyValue($0) }) }
        if let list = value["kvlistValue"] {
            return .object((list["values"]?.arrayValue ?? []).compactMap { item in item["key"]?.stringValue.map { ($0, anyValue(item["value"])) } })
        }
        return .null
    }

    /// A value that may be a JSON document in a string (1.37+ allows both).
    static func structured(_ value: JSONValue?) -> JSONValue? {
        guard let value, !value.isNull else { return nil }
        if let text = value.stringValue, let first = text.first(where: { !$0.isWhitespace }), first == "[" || first == "{" {
            return (try? JSONParser.parse(text)) ?? value
        }
        return value
    }

    static func partsText(_ parts: [JSONValue]) -> String {
        parts.compactMap { part -> String? in
            if let text = part.stringValue { return text }
            let type = part["type"]?.stringValue ?? "text"
            guard type == "text" else { return nil }
            return (part["content"] ?? part["text"])?.stringValue
        }.joined(separator: "\n")
    }

    static func contentText(_ value: JSONValue) -> String? {
        if let text = value.stringValue { return text }
        if let parts = value.arrayValue { return partsText(parts) }
        return nil
    }

    static func argumentsText(_ value: JSONValue?) -> String {
        guard let value, !value.isNull else { return "" }
        return value.stringValue ?? value.serialized()
    }

    /// 64-bit integers arrive as decimal strings (numbers accepted too).
    static func nanos(_ value: JSONValue?) -> UInt64? {
        switch value {
        case .string(let s)?: return UInt64(s)
        case .int(let i)?: return i >= 0 ? UInt64(i) : nil
        case .double(let d)?: return d >= 0 && d < 1.8e19 ? UInt64(d) : nil
        default: return nil
        }
    }

    static func int(_ value: JSONValue?) -> Int? {
        switch value {
        case .int(let i)?: return Int(i)
        case .string(let s)?: return Int(s)
        case .double(let d)?: return d.isFinite && abs(d) < 1e15 ? Int(d) : nil
        default: return nil
        }
    }
}
