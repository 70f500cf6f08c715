import EvaldCore
import Foundation
import Testing

/// OTLP/JSON written by real GenAI instrumentations (Fixtures/otlp/generate.py drives the
/// official `openai`/`anthropic` clients against a local stub and exports with the official
/// OTLP JSON file exporter). The values below are generate.py's constants: what the clients
/// sent and what the stub answered. Ids and timestamps change on every regeneration and are
/// not asserted literally.
@Suite struct OTLPRealProducerTests {
    static let systemPrompt = "You are a support agent for Acme. Answer briefly."
    static let question1 = "Where is my order 42?"
    static let answer1 = "Your order 42 shipped yesterday and arrives Friday."
    static let question2 = "Please refund order A-1."
    static let anthropicQuestion = "Summarize ticket 7 in one sentence."
    static let anthropicAnswer = "The customer wants a refund for a damaged kettle."

    struct Decoded {
        var records: [TraceRecord] = []
        var llmSpans = 0
        var skippedSpans = 0
        /// Trace ids of the non-LLM "handle_request" parents.
        var parentTraces: Set<String> = []
    }

    static func fixture(_ name: String) throws -> Decoded {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/otlp/\(name)")
        let text = try String(contentsOf: url, encoding: .utf8)
        var decoded = Decoded()
        for line in text.split(separator: "\n") where !line.isEmpty {
            let json = try JSONParser.parse(String(line))
            let result = try OTLPDecoder.decode(json) { _, _, _ in 1.0 }
            decoded.records += result.records.map(\.record)
            decoded.llmSpans += result.llmSpans
            decoded.skippedSpans += result.skippedSpans
            for resourceSpan in json["resourceSpans"]?.arrayValue ?? [] {
                for scopeSpan in resourceSpan["scopeSpans"]?.arrayValue ?? [] {
                    for span in scopeSpan["spans"]?.arrayValue ?? [] where span["name"]?.stringValue == "handle_request" {
                        if let id = span["traceId"]?.stringValue { decoded.parentTraces.insert(id) }
                    }
                }
            }
        }
        return decoded
    }

    /// What every record of every fixture has, whatever the producer.
    static func expectCommon(_ r: TraceRecord, _ d: Decoded) {
        #expect(r.traceID.count == 32 && r.traceID.allSatisfy(\.isHexDigit))
        #expect(r.recordID.hasPrefix(r.traceID + ":") && r.recordID.count == 32 + 1 + 16)
        #expect(d.parentTraces.contains(r.traceID), "LLM span shares its trace with a non-LLM handle_request span")
        #expect(r.route == "support-chat")
        #expect(r.promptVersion == "support-v12")
        #expect((r.latencyMs ?? 0) > 0)
        #expect(r.timestamp.timeIntervalSince1970 > 1_600_000_000)
        #expect(r.status == .ok)
        #expect(r.error == nil)
        #expect(r.tenant == nil)
    }

    static func expectOpenAI(_ d: Decoded, finishReasonForToolCall: String, content: Bool) throws {
        #expect(d.llmSpans == 2)
        #expect(d.records.count == 2)
        #expect(d.skippedSpans == 4)  // 2 x (handle_request + load_customer)
        let plain = try #require(d.records.first { $0.inputTokens == 812 })
        let tool = try #require(d.records.first { $0.inputTokens == 640 })
        for r in [plain, tool] {
            expectCommon(r, d)
            #expect(r.model == "gpt-4o-mini")
            #expect(r.provider == "openai")
            #expect(r.responseModel == "gpt-4o-mini-2024-07-18")
            #expect(r.systemFingerprint == "fp_44709d6fcb")
        }
        #expect(plain.outputTokens == 164)
        #expect(tool.outputTokens == 23)
        #expect(plain.finishReason == "stop")
        #expect(tool.finishReason == finishReasonForToolCall)
        if content {
            #expect(plain.hasContent && tool.hasContent)
            #expect(plain.input == [.init(role: "system", content: systemPrompt), .init(role: "user", content: question1)])
            #expect(plain.output == answer1)
            #expect(plain.toolCalls.isEmpty)
            #expect(tool.input == [.init(role: "user", content: question2)])
            // The answer is only a tool call: no text parts.
            #expect(tool.output == "")
            // Both producers write the arguments as a structured object (not the model's
            // JSON string), so they come back re-serialized compactly.
            #expect(tool.toolCalls == [.init(name: "issue_refund", arguments: #"{"order_id":"A-1"}"#)])
        } else {
            for r in [plain, tool] {
                #expect(!r.hasContent)
                #expect(r.input.isEmpty)
                #expect(r.output == nil)
                #expect(r.toolCalls.isEmpty)
            }
        }
    }

    /// opentelemetry-instrumentation-openai-v2, OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental,
    /// content as span attributes (gen_ai.input.messages / gen_ai.output.messages JSON strings).
    @Test func officialOpenAILatestWithContent() throws {
        try Self.expectOpenAI(Self.fixture("openai-v2-latest-content.jsonl"), finishReasonForToolCall: "tool_calls", content: true)
    }

    /// opentelemetry-instrumentation-openai-v2 with its defaults: no content captured.
    @Test func officialOpenAIWithoutContent() throws {
        try Self.expectOpenAI(Self.fixture("openai-v2-no-content.jsonl"), finishReasonForToolCall: "tool_calls", content: false)
    }

    /// OpenLLMetry's opentelemetry-instrumentation-openai: gen_ai.openai.response.system_fingerprint,
    /// and "tool_call" (singular) as the finish reason of a tool call.
    @Test func openLLMetryOpenAI() throws {
        try Self.expectOpenAI(Self.fixture("openllmetry-openai.jsonl"), finishReasonForToolCall: "tool_call", content: true)
    }

    /// OpenLLMetry's opentelemetry-instrumentation-anthropic. The anthropic SDK itself also
    /// emits a GenAI span per call (scope com.anthropic.sdk.python, no content), a sibling of
    /// OpenLLMetry's: each call is seen twice, as every LLM span is mapped.
    @Test func openLLMetryAnthropic() throws {
        let d = try Self.fixture("openllmetry-anthropic.jsonl")
        #expect(d.llmSpans == 4)
        #expect(d.records.count == 4)
        #expect(d.skippedSpans == 4)
        for r in d.records {
            Self.expectCommon(r, d)
            #expect(r.model == "claude-3-5-haiku-latest")
            #expect(r.provider == "anthropic")
            #expect(r.responseModel == "claude-3-5-haiku-20241022")
            #expect(r.systemFingerprint == nil)
            #expect(r.toolCalls.isEmpty)
        }
        let withContent = d.records.filter(\.hasContent)
        let sdk = d.records.filter { !$0.hasContent }
        #expect(withContent.count == 2)
        #expect(sdk.count == 2)

        let withSystem = try #require(withContent.first { $0.inputTokens == 120 })
        #expect(withSystem.outputTokens == 18)
        #expect(withSystem.input == [.init(role: "system", content: Self.systemPrompt), .init(role: "user", content: Self.anthropicQuestion)])
        let noSystem = try #require(withContent.first { $0.inputTokens == 95 })
        #expect(noSystem.outputTokens == 12)
        #expect(noSystem.input == [.init(role: "user", content: Self.anthropicQuestion)])
        for r in withContent {
            #expect(r.output == Self.anthropicAnswer)
            // OpenLLMetry maps Anthropic's "end_turn" to "stop".
            #expect(r.finishReason == "stop")
        }

        // The SDK's own spans: usage and models, the stop reason only as anthropic.message.stop_reason.
        #expect(Set(sdk.compactMap(\.inputTokens)) == [120, 95])
        #expect(Set(sdk.compactMap(\.outputTokens)) == [18, 12])
        for r in sdk {
            #expect(r.output == nil && r.input.isEmpty)
            #expect(r.finishReason == "end_turn")
        }
        // Each call: one SDK span and one OpenLLMetry span in the same trace.
        #expect(Set(sdk.map(\.traceID)) == Set(withContent.map(\.traceID)))
    }
}
