import EvaldCore
import Foundation
import Testing

/// OTLP/JSON as the Collector's file exporter writes it, one generation of the GenAI
/// conventions per fixture.
enum OTLPFixtures {
    static func attribute(_ key: String, _ value: String) -> String { #"{"key":"\#(key)","value":\#(value)}"# }
    static func string(_ s: String) -> String {
        #"{"stringValue":\#(JSONValue.string(s).serialized())}"#
    }

    static func line(spans: [String], service: String = "support-chat", version: String = "support-v12") -> String {
        #"{"resourceSpans":[{"resource":{"attributes":[\#(attribute("service.name", string(service))),\#(attribute("service.version", string(version)))]},"scopeSpans":[{"scope":{"name":"x"},"spans":[\#(spans.joined(separator: ","))]}]}]}"#
    }

    static func span(
        traceID: String = "75b15b0be23b7ac193fe040727553980", spanID: String = "00f067aa0ba902b7", attributes: [String], events: [String] = [],
        status: String = #"{}"#, traceState: String? = nil
    ) -> String {
        let state = traceState.map { #","traceState":"\#($0)""# } ?? ""
        return
            #"{"traceId":"\#(traceID)","spanId":"\#(spanID)"\#(state),"name":"chat gpt-4o-mini","kind":3,"startTimeUnixNano":"1795860000000000000","endTimeUnixNano":"1795860001432000000","attributes":[\#(attributes.joined(separator: ","))],"events":[\#(events.joined(separator: ","))],"status":\#(status)}"#
    }

    /// 1.37+: messages as attributes (a JSON string here, structured values below).
    static let latest = span(attributes: [
        attribute("gen_ai.operation.name", string("chat")),
        attribute("gen_ai.provider.name", string("openai")),
        attribute("gen_ai.request.model", string("gpt-4o-mini")),
        attribute("gen_ai.response.model", string("gpt-4o-mini-2024-07-18")),
        attribute("openai.response.system_fingerprint", string("fp_44709d6fcb")),
        attribute("gen_ai.usage.input_tokens", #"{"intValue":"812"}"#),
        attribute("gen_ai.usage.output_tokens", #"{"intValue":164}"#),
        attribute("gen_ai.response.finish_reasons", #"{"arrayValue":{"values":[{"stringValue":"tool_calls"}]}}"#),
        attribute("gen_ai.system_instructions", string(#"[{"type":"text","content":"You are a support agent."}]"#)),
        attribute("gen_ai.input.messages", string(#"[{"role":"user","parts":[{"type":"text","content":"Where is my order 42?"}]}]"#)),
        attribute(
            "gen_ai.output.messages",
            #"{"arrayValue":{"values":[{"kvlistValue":{"values":[{"key":"role","value":{"stringValue":"assistant"}},{"key":"parts","value":{"arrayValue":{"values":[{"kvlistValue":{"values":[{"key":"type","value":{"stringValue":"text"}},{"key":"content","value":{"stringValue":"Let me look that up."}}]}},{"kvlistValue":{"values":[{"key":"type","value":{"stringValue":"tool_call"}},{"key":"name","value":{"stringValue":"lookup_order"}},{"key":"arguments","value":{"kvlistValue":{"values":[{"key":"id","value":{"stringValue":"42"}}]}}}]}}]}}},{"key":"finish_reason","value":{"stringValue":"tool_calls"}}]}}]}}"#
        ),
        attribute("evald.tenant", string("acme")),
    ])

    /// 1.28-1.36: one event a message, gen_ai.choice for the answer.
    static let events = span(
        spanID: "00f067aa0ba902b8",
        attributes: [
            attribute("gen_ai.system", string("openai")),
            attribute("gen_ai.request.model", string("gpt-4o")),
            attribute("gen_ai.openai.response.system_fingerprint", string("fp_old")),
            attribute("gen_ai.usage.prompt_tokens", #"{"intValue":"100"}"#),
            attribute("gen_ai.usage.completion_tokens", #"{"intValue":"20"}"#),
            attribute("evald.route", string("refunds-assist")),
        ],
        events: [
            #"{"name":"gen_ai.system.message","attributes":[\#(attribute("content", string("Decide refunds.")))]}"#,
            #"{"name":"gen_ai.user.message","attributes":[\#(attribute("content", string("Refund order A-1?")))]}"#,
            #"{"name":"gen_ai.choice","attributes":[\#(attribute("finish_reason", string("stop"))),\#(attribute("message", string(#"{"role":"assistant","content":"Refund approved.","tool_calls":[{"function":{"name":"issue_refund","arguments":"{\"order_id\": \"A-1\"}"}}]}"#)))]}"#,
        ])

    /// Up to 1.27: prompt and completion events.
    static let oldest = span(
        spanID: "00f067aa0ba902b9",
        attributes: [
            attribute("gen_ai.system", string("anthropic")),
            attribute("gen_ai.request.model", string("claude-3-5-haiku")),
        ],
        events: [
            #"{"name":"gen_ai.content.prompt","attributes":[\#(attribute("gen_ai.prompt", string(#"[{"role":"user","content":"Summarize ticket 7"}]"#)))]}"#,
            #"{"name":"gen_ai.content.completion","attributes":[\#(attribute("gen_ai.completion", string(#"[{"role":"assistant","content":"The customer wants a refund."}]"#)))]}"#,
        ])

    static let http = span(spanID: "00f067aa0ba902c0", attributes: [attribute("http.request.method", string("POST"))])

    static let failedWithoutContent = span(
        spanID: "00f067aa0ba902c1",
        attributes: [
            attribute("gen_ai.operation.name", string("chat")),
            attribute("gen_ai.request.model", string("gpt-4o-mini")),
            attribute("error.type", string("rate_limited")),
        ], status: #"{"code":2,"message":"429"}"#)
}

@Suite struct OTLPDecoderTests {
    func decode(_ line: String, keep: (String, String?) -> Bool = { _, _ in true }) throws -> OTLPDecoder.Result {
        try OTLPDecoder.decode(try JSONParser.parse(line)) { id, state, _ in keep(id, state) ? 1 : nil }
    }

    @Test func latestConventions() throws {
        let result = try decode(OTLPFixtures.line(spans: [OTLPFixtures.latest]))
        let r = try #require(result.records.first?.record)
        #expect(r.recordID == "75b15b0be23b7ac193fe040727553980:00f067aa0ba902b7")
        #expect(r.traceID == "75b15b0be23b7ac193fe040727553980")
        #expect(r.timestamp == Date(timeIntervalSince1970: 1_795_860_000))
        #expect(abs((r.latencyMs ?? 0) - 1432) < 1e-6)
        #expect(r.provider == "openai" && r.model == "gpt-4o-mini" && r.responseModel == "gpt-4o-mini-2024-07-18")
        #expect(r.systemFingerprint == "fp_44709d6fcb")
        #expect(r.inputTokens == 812 && r.outputTokens == 164)
        #expect(r.input == [.init(role: "system", content: "You are a support agent."), .init(role: "user", content: "Where is my order 42?")])
        #expect(r.output == "Let me look that up.")
        #expect(r.toolCalls == [.init(name: "lookup_order", arguments: #"{"id":"42"}"#)])
        #expect(r.finishReason == "tool_calls")
        #expect(r.route == "support-chat" && r.promptVersion == "support-v12" && r.tenant == "acme")
        #expect(r.status == .ok)
    }

    @Test func messageEventConventions() throws {
        let r = try #require(try decode(OTLPFixtures.line(spans: [OTLPFixtures.events])).records.first?.record)
        #expect(r.provider == "openai" && r.model == "gpt-4o" && r.systemFingerprint == "fp_old")
        #expect(r.inputTokens == 100 && r.outputTokens == 20)
        #expect(r.input.map(\.role) == ["system", "user"])
        #expect(r.output == "Refund approved.")
        #expect(r.toolCalls == [.init(name: "issue_refund", arguments: #"{"order_id": "A-1"}"#)])
        #expect(r.finishReason == "stop")
        #expect(r.route == "refunds-assist")  // evald.route beats service.name
    }

    @Test func promptCompletionEventConventions() throws {
        let r = try #require(try decode(OTLPFixtures.line(spans: [OTLPFixtures.oldest])).records.first?.record)
        #expect(r.provider == "anthropic")
        #expect(r.input == [.init(role: "user", content: "Summarize ticket 7")])
        #expect(r.output == "The customer wants a refund.")
    }

    @Test func nonLLMSpansAreSkippedAndErrorsWithoutContentKept() throws {
        let result = try decode(OTLPFixtures.line(spans: [OTLPFixtures.http, OTLPFixtures.failedWithoutContent, OTLPFixtures.latest]))
        #expect(result.skippedSpans == 1)
        #expect(result.llmSpans == 2)
        #expect(result.records.map(\.index) == [1, 2])
        let failed = result.records[0].record
        #expect(failed.status == .error && failed.error == "rate_limited")
        #expect(!failed.hasContent)
    }

    @Test func samplingIsDecidedFromTheTraceIDAndTraceState() throws {
        let kept = OTLPFixtures.span(
            traceID: "00000000000000000000000000000001", attributes: [OTLPFixtures.attribute("gen_ai.request.model", OTLPFixtures.string("m"))],
            traceState: "ot=th:0;rv:fe040727553980")
        let line = OTLPFixtures.line(spans: [kept])
        let classifier = LineClassifier(sampler: TraceSampler(globalRate: 0.01))
        let result = try Array(line.utf8).withUnsafeBytes { classifier.decodeOTLP($0) }.get()
        // R from rv (0xfe04...) passes at 1% although the id's own digits would not.
        #expect(result.records.count == 1)
        let dropped = OTLPFixtures.line(spans: [
            OTLPFixtures.span(
                traceID: "00000000000000000000000000000001", attributes: [OTLPFixtures.attribute("gen_ai.request.model", OTLPFixtures.string("m"))])
        ])
        #expect(try Array(dropped.utf8).withUnsafeBytes { classifier.decodeOTLP($0) }.get().records.isEmpty)
    }

    @Test func storedAsNativeJSONThatDecodesBack() throws {
        let r = try #require(try decode(OTLPFixtures.line(spans: [OTLPFixtures.latest])).records.first?.record)
        let again = try NativeRecordDecoder.decode(try JSONParser.parse(NativeRecordEncoder.json(r)))
        #expect(again.recordID == r.recordID)
        #expect(again.toolCalls == r.toolCalls && again.input == r.input && again.output == r.output)
        #expect(abs(again.timestamp.timeIntervalSince1970 - r.timestamp.timeIntervalSince1970) < 0.001)
    }

    @Test func badOTLPIsAProblemNotACrash() {
        #expect(throws: LineProblem.self) { try decode(#"{"resourceSpans": 5}"#) }
        #expect(throws: LineProblem.self) {
            try decode(OTLPFixtures.line(spans: [#"{"spanId":"1","attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"m"}}]}"#]))
        }
    }
}
