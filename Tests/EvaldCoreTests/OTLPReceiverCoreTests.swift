import EvaldCore
import Foundation
import Testing

/// The OTLP receiver's pure parts: gzip with a bound, span keys and their window, and the
/// spool lines made of a request.
@Suite struct OTLPReceiverCoreTests {
    /// `printf 'hello hello hello hello\n' | gzip -9 -n`
    static let gzipped: [UInt8] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40, 0x27, 0xb9, 0x00, 0x00,
        0x88, 0x59, 0x0b, 0x18, 0x00, 0x00, 0x00,
    ]

    @Test func gzipInflatesWithinItsLimitAndRefusesBeyondIt() throws {
        #expect(String(decoding: try GzipInflater.inflate(Self.gzipped, limit: 100), as: UTF8.self) == "hello hello hello hello\n")
        // Two members are one body.
        #expect(try GzipInflater.inflate(Self.gzipped + Self.gzipped, limit: 100).count == 48)
        #expect(throws: GzipInflater.Failure.tooLarge(limit: 10)) { try GzipInflater.inflate(Self.gzipped, limit: 10) }
        #expect(throws: GzipInflater.Failure.self) { try GzipInflater.inflate(Array("hello".utf8), limit: 100) }
        #expect(throws: GzipInflater.Failure.self) { try GzipInflater.inflate(Array(Self.gzipped.prefix(15)), limit: 100) }
    }

    @Test func spanKeysNeedValidIdsAndDoNotDependOnCase() {
        let key = OTLPSpanKey(traceID: "0af7651916cd43dd8448eb211c80319c", spanID: "b7ad6b7169203331")
        #expect(key != nil)
        #expect(key == OTLPSpanKey(traceID: "0AF7651916CD43DD8448EB211C80319C", spanID: "B7AD6B7169203331"))
        #expect(key != OTLPSpanKey(traceID: "0af7651916cd43dd8448eb211c80319c", spanID: "b7ad6b7169203332"))
        #expect(OTLPSpanKey(traceID: "00000000000000000000000000000000", spanID: "b7ad6b7169203331") == nil)
        #expect(OTLPSpanKey(traceID: "0af7651916cd43dd8448eb211c80319c", spanID: "0000000000000000") == nil)
        #expect(OTLPSpanKey(traceID: "0af7651916cd43dd8448eb211c8031", spanID: "b7ad6b7169203331") == nil)
        #expect(OTLPSpanKey(traceID: "0af7651916cd43dd8448eb211c80319g", spanID: "b7ad6b7169203331") == nil)
    }

    @Test func theWindowForgetsTheOldestBeyondItsCapacity() throws {
        var window = OTLPSpanKeyWindow(capacity: 3)
        let keys = try (1...4).map { try #require(OTLPSpanKey(traceID: String(format: "%032x", $0), spanID: "00000000000000aa")) }
        for key in keys.prefix(3) { window.insert(key) }
        window.insert(keys[0])
        #expect(window.count == 3)
        window.insert(keys[3])
        #expect(window.count == 3)
        #expect(!window.contains(keys[0]) && window.contains(keys[1]) && window.contains(keys[3]))
    }

    static func span(_ n: Int, traceID: String? = nil, start: String = "\"1796005748278419497\"") -> String {
        #"{"traceId":"\#(traceID ?? String(format: "%032X", n + 1))","spanId":"\#(String(format: "%016x", n + 1))","name":"s\#(n)","startTimeUnixNano":\#(start),"endTimeUnixNano":"1796005748278443028","attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"m"}}]}"#
    }

    static func request(_ spans: [String]) throws -> JSONValue {
        try JSONParser.parse(
            #"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeSpans":[{"scope":{"name":"lib"},"spans":[\#(spans.joined(separator: ","))]}],"schemaUrl":"https://opentelemetry.io/schemas/1.37.0"}]}"#
        )
    }

    @Test func aRequestsSpansAreCheckedOneByOne() throws {
        let batch = try OTLPExportBatch(
            request: try Self.request([Self.span(0), Self.span(1, traceID: "00000000000000000000000000000000"), Self.span(2, start: "null"), Self.span(3)]))
        #expect(batch.spanCount == 2)
        #expect(batch.rejected == 2)
        #expect(batch.rejection?.contains("spans[1]") == true)
        #expect(throws: OTLPExportBatch.Problem.self) { try OTLPExportBatch(request: try JSONParser.parse(#"{"resourceSpans": {}}"#)) }
        #expect(throws: OTLPExportBatch.Problem.self) { try OTLPExportBatch(request: try JSONParser.parse(#"[1]"#)) }
        #expect(try OTLPExportBatch(request: try JSONParser.parse("{}")).spanCount == 0)
    }

    @Test func itsLinesAreTracesDataTheDecoderReadsWithinTheLineLimit() throws {
        let batch = try OTLPExportBatch(request: try Self.request((0..<20).map { Self.span($0) } + [Self.span(0)]))
        let limit = 1200
        let (lines, oversized) = batch.lines(lineLimit: limit) { _ in true }
        let keys = lines.flatMap(\.keys)
        #expect(oversized == 0)
        #expect(keys.count == 20, "the repeated span once")
        #expect(lines.count > 1)
        var decoded = 0
        for line in lines {
            #expect(line.text.utf8.count <= limit)
            let json = try JSONParser.parse(line.text)
            let result = try OTLPDecoder.decode(json) { _, _, _ in 1 }
            for (_, record, _) in result.records {
                #expect(record.route == "svc")
                #expect(record.traceID == record.traceID.lowercased(), "ids are written in lowercase")
            }
            decoded += result.records.count
            #expect(json["resourceSpans"]?.arrayValue?.first?["schemaUrl"]?.stringValue == "https://opentelemetry.io/schemas/1.37.0")
            #expect(OTLPExportBatch.keys(ofLine: json) == line.keys)
        }
        #expect(decoded == 20)
        // Spans already stored are left out; a span longer than a line alone is counted.
        let known = Set(keys.prefix(5))
        #expect(batch.lines(lineLimit: limit) { !known.contains($0) }.lines.flatMap(\.keys).count == 15)
        #expect(batch.lines(lineLimit: 100) { _ in true }.oversized == 20)
    }
}
