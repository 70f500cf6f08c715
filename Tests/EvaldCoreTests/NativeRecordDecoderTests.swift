import EvaldCore
import Foundation
import Testing

func decodeNative(_ json: String) throws -> TraceRecord {
    try NativeRecordDecoder.decode(try JSONParser.parse(json))
}

@Suite struct NativeRecordDecoderTests {
    @Test func fullRecord() throws {
        let record = try decodeNative(
            """
            {"trace_id": "9f1c2e7a5b3d4c6e8f0a1b2c3d4e5f60", "timestamp": "2026-11-28T10:00:00.123Z",
             "route": "support-chat", "tenant": "acme", "provider": "openai", "model": "gpt-4o-mini",
             "response_model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_44709d6fcb", "prompt_version": "support-v12",
             "input": [{"role": "system", "content": "You are ..."}, {"role": "user", "content": "Where is my order 42?"}],
             "output": "Your order 42 shipped yesterday ...",
             "tool_calls": [{"name": "lookup_order", "arguments": "{\\"id\\": \\"42\\"}"}],
             "usage": {"input_tokens": 812, "output_tokens": 164}, "latency_ms": 1432, "cost_usd": 0.00121,
             "status": "ok", "error": null, "reference": null, "feedback": "down", "metadata": {"request_id": "req-77"},
             "some_future_field": [1, 2]}
            """)
        #expect(record.tenant == "acme")
        #expect(record.input.count == 2 && record.input[1].content == "Where is my order 42?")
        #expect(record.toolCalls == [.init(name: "lookup_order", arguments: #"{"id": "42"}"#)])
        #expect(record.inputTokens == 812 && record.outputTokens == 164)
        #expect(record.latencyMs == 1432 && record.costUSD == 0.00121)
        #expect(record.feedback == 0)
        #expect(record.systemFingerprint == "fp_44709d6fcb")
    }

    @Test func plainStringInputAndObjectArguments() throws {
        let record = try decodeNative(
            #"{"trace_id":"t","timestamp":"2026-11-28T10:00:00+02:00","model":"m","output":"o","input":"Summarize this","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}],"feedback":0.5}"#
        )
        #expect(record.input == [.init(role: "user", content: "Summarize this")])
        #expect(record.toolCalls == [.init(name: "f", arguments: #"{"a":1}"#)])
        #expect(record.feedback == 0.5)
        #expect(record.timestamp == Date(timeIntervalSince1970: 1_795_852_800))
    }

    @Test func booleansAreNotNumbers() {
        #expect(throws: LineProblem.self) { try decodeNative(#"{"trace_id":"t","timestamp":true,"model":"m","output":"o"}"#) }
        #expect(throws: LineProblem.self) { try decodeNative(#"{"trace_id":"t","timestamp":1,"model":"m","output":"o","latency_ms":true}"#) }
    }

    @Test func badStatus() {
        #expect(throws: LineProblem(.invalidField, #""status" must be "ok" or "error", got "maybe""#)) {
            try decodeNative(#"{"trace_id":"t","timestamp":1,"model":"m","output":"o","status":"maybe"}"#)
        }
    }
}

@Suite struct RFC3339Tests {
    @Test(arguments: [
        ("2026-11-28T10:00:00Z", 1_795_860_000.0),
        ("2026-11-28T10:00:00.5Z", 1_795_860_000.5),
        ("2026-11-28T12:00:00+02:00", 1_795_860_000.0),
        ("2026-11-28t10:00:00z", 1_795_860_000.0),
        ("1970-01-01T00:00:00Z", 0),
        ("2000-02-29T00:00:00Z", 951_782_400),
    ])
    func parses(text: String, seconds: Double) {
        #expect(RFC3339.parse(text)?.timeIntervalSince1970 == seconds)
    }

    @Test(arguments: ["2026-11-28", "2026-11-28T10:00:00", "2026-13-28T10:00:00Z", "2026-11-28T10:00:00.Z", "2026-11-28T10:00:00Zjunk"])
    func rejects(text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test func formatRoundTrips() {
        let date = Date(timeIntervalSince1970: 1_795_860_000.123)
        #expect(RFC3339.format(date) == "2026-11-28T10:00:00.123Z")
        #expect(RFC3339.parse(RFC3339.format(date)) == date)
    }
}
