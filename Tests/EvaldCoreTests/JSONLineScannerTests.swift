import EvaldCore
import Testing

func scan(_ text: String, needRoute: Bool = false) -> (JSONLineScan, [UInt8]) {
    let bytes = Array(text.utf8)
    return (bytes.withUnsafeBytes { JSONLineScanner.scan($0, needRoute: needRoute) }, bytes)
}

func field(_ range: Range<Int>?, in bytes: [UInt8]) -> String? {
    range.map { String(decoding: bytes[$0], as: UTF8.self) }
}

@Suite struct JSONLineScannerTests {
    @Test func findsTraceIDFirst() {
        let (result, bytes) = scan(#"{"trace_id":"abc","route":"r"}"#)
        #expect(field(result.traceID, in: bytes) == "abc")
        #expect(result.route == nil)  // not asked for: the scan stopped early
    }

    @Test func findsKeysAfterNestedValuesWithTrickyStrings() {
        let line =
            #"{"input":[{"role":"user","content":"a \"quoted\" } ] { brace, \\"}],"metadata":{"trace_id":"nested"},"n":-1.5e3,"ok":true,"route":"support","trace_id":"top"}"#
        let (result, bytes) = scan(line, needRoute: true)
        #expect(field(result.traceID, in: bytes) == "top")
        #expect(field(result.route, in: bytes) == "support")
        #expect(!result.isBroken)
    }

    @Test func shapes() {
        #expect(scan("   ").0.shape == .blank)
        #expect(scan("[1,2]").0.shape == .notAnObject)
        #expect(scan(#"{"resourceSpans":[]}"#).0.isOTLP)
        #expect(scan(#"{"trace_id": "abc"#).0.isBroken)
        #expect(scan(#"{"a":1 "trace_id":"x"}"#).0.isBroken)
    }

    @Test func flagsEscapedIDs() {
        let (result, _) = scan(#"{"trace_id":"a\"b"}"#)
        #expect(result.traceIDHasEscapes)
    }

    @Test func nonStringTraceIDIsNotReported() {
        let (result, _) = scan(#"{"trace_id":42,"route":"x"}"#)
        #expect(result.traceID == nil)
    }
}
