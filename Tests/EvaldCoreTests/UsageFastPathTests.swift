import EvaldTesting
import Foundation
import Testing

@testable import EvaldCore

/// The pieces that let ingest add every unsampled line to usage without a String or a full
/// decode: each must read exactly what the slower way it replaces reads.
@Suite struct UsageFastPathTests {
    // MARK: RFC 3339 from bytes

    /// The String parser as it was before it read bytes (it made an Array of the text): the
    /// oracle the byte parser must agree with on every input.
    static func referenceRFC3339(_ text: String) -> Double? {
        let b = Array(text.utf8)
        guard b.count >= 20 else { return nil }
        func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var value = 0
            for i in from..<(from + count) {
                let d = Int(b[i]) - 48
                guard d >= 0, d <= 9 else { return nil }
                value = value * 10 + d
            }
            return value
        }
        guard let year = digits(0, 4), b[4] == 45, let month = digits(5, 2), b[7] == 45,
            let day = digits(8, 2), b[10] == 84 || b[10] == 116 || b[10] == 32,
            let hour = digits(11, 2), b[13] == 58, let minute = digits(14, 2), b[16] == 58,
            let second = digits(17, 2)
        else { return nil }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60 else { return nil }
        var index = 19
        var fraction = 0.0
        if index < b.count, b[index] == 46 {
            index += 1
            var digitsValue = 0.0
            var scale = 1.0
            let start = index
            while index < b.count, b[index] >= 48, b[index] <= 57 {
                if index - start < 9 {
                    digitsValue = digitsValue * 10 + Double(b[index] - 48)
                    scale *= 10
                }
                index += 1
            }
            fraction = digitsValue / scale
            guard index > start else { return nil }
        }
        guard index < b.count else { return nil }
        var offsetSeconds = 0
        switch b[index] {
        case 90, 122:
            index += 1
        case 43, 45:
            guard let oh = digits(index + 1, 2), b.count > index + 3, b[index + 3] == 58, let om = digits(index + 4, 2) else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (b[index] == 43 ? 1 : -1)
            index += 6
        default:
            return nil
        }
        guard index == b.count else { return nil }
        let days = RFC3339.daysFromCivil(year: year, month: month, day: day)
        return Double(days * 86400 + hour * 3600 + minute * 60 + second - offsetSeconds) + fraction
    }

    static func bytesRFC3339(_ text: String) -> Double? {
        var text = text
        return text.withUTF8 { RFC3339.seconds(utf8: UnsafeRawBufferPointer($0)) }
    }

    @Test(arguments: [
        "2026-11-28T10:00:00Z", "2026-11-28T10:00:00.123Z", "2026-11-28T10:00:00.123456789Z", "2026-11-28T10:00:00.1234567891234Z",
        "2026-11-28t10:00:00z", "2026-11-28 10:00:00Z", "2026-11-28T10:00:00+02:00", "2026-11-28T10:00:00-05:30", "2026-11-28T10:00:00.5+14:00",
        "2024-02-29T23:59:59Z", "2023-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-02-31T00:00:00Z",
        "2026-12-31T23:59:60Z", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
        "2026-11-28T10:00:00", "2026-11-28T10:00:00.Z", "2026-11-28T10:00:00Zjunk", "2026-13-28T10:00:00Z", "2026-00-28T10:00:00Z",
        "2026-11-00T10:00:00Z", "2026-11-32T10:00:00Z", "2026-11-28T24:00:00Z", "2026-11-28T10:60:00Z", "2026-11-28T10:00:61Z",
        "2026-11-28T10:00:00+0200", "2026-11-28T10:00:00+02", "2026-11-28T10:00:00+02:0", "2026-11-28X10:00:00Z", "2026/11/28T10:00:00Z",
        "2026-11-28T10:00:00.12a", "+026-11-28T10:00:00Z", "2026-11-28T10:00:00\u{00e9}", "２０26-11-28T10:00:00Z", "", "2026-11-28",
    ])
    func byteParserAgreesWithTheStringParserOn(text: String) {
        #expect(Self.bytesRFC3339(text) == Self.referenceRFC3339(text))
        #expect(RFC3339.parse(text) == Self.referenceRFC3339(text).map(Date.init(timeIntervalSince1970:)))
    }

    /// Valid timestamps with every byte in turn replaced by another: whatever the reference
    /// accepts or refuses, the byte parser does the same.
    @Test func byteParserAgreesOnEverySingleByteChange() async {
        await offPool {
            var rng = SplitMix64(state: 3339)
            let alphabet = Array("0123456789-:T tZz+.,/x".utf8) + [0xC3, 0x80, 0x00]
            var compared = 0
            for _ in 0..<200 {
                let year = Int(rng.next() % 10_000), month = 1 + Int(rng.next() % 12), day = 1 + Int(rng.next() % 31)
                let hour = Int(rng.next() % 24), minute = Int(rng.next() % 60), second = Int(rng.next() % 61)
                let fraction = ["", ".5", ".123", ".000001", ".987654321012"][Int(rng.next() % 5)]
                let zone = ["Z", "z", "+00:00", "-07:00", "+05:45"][Int(rng.next() % 5)]
                let text = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour, minute, second) + fraction + zone
                #expect(Self.bytesRFC3339(text) != nil, "\(text)")
                var bytes = Array(text.utf8)
                for position in bytes.indices {
                    let original = bytes[position]
                    bytes[position] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                    let changed = String(decoding: bytes, as: UTF8.self)
                    let viaBytes = bytes.withUnsafeBytes { RFC3339.seconds(utf8: $0) }
                    #expect(viaBytes == Self.referenceRFC3339(changed) || String(validating: bytes, as: UTF8.self) == nil, "\(changed)")
                    bytes[position] = original
                    compared += 1
                }
            }
            #expect(compared > 4000)
        }
    }

    // MARK: Decimals without strtod

    @Test(arguments: [
        "0", "-0", "1", "0.0005736", "4.35e-05", "4.35E-05", "1e22", "1e-22", "123456789012345", "0.1", "0.2", "0.3", "-12.5e+3",
        "9007199254740993", "1234567890123456", "1e23", "1e-23", "0.00000000000000000000001", "3.141592653589793", "2.5e", "1.", ".5",
        "01", "-01.5", "1e+", "--1", "1.5.2", "1e0001", "1e99999", "-1e-400", "12e-20", "999999999999999e7",
    ])
    func decimalsReadExactlyOrNotAtAll(text: String) {
        var bytes = Array(text.utf8)
        let fast = bytes.withUnsafeMutableBytes { DecimalText.exactValue(UnsafeRawBufferPointer($0)) }
        if let fast {
            let slow = Double(text)
            #expect(slow != nil && fast.bitPattern == slow!.bitPattern, "\(text): \(fast) against \(String(describing: slow))")
        }
        // Whatever the fast path leaves, the scanner's number reader still reads as before.
        let number = bytes.withUnsafeMutableBytes { UsageScanner.number(UnsafeRawBufferPointer($0), 0..<$0.count) }
        let expected = Double(text).flatMap { $0.isFinite && (text.first == "-" || text.first?.isNumber == true) ? $0 : nil }
        #expect(number?.bitPattern == expected?.bitPattern, "\(text)")
    }

    @Test func randomDecimalsMatchStrtodBitForBit() async {
        await offPool {
            var rng = SplitMix64(state: 22)
            var fastCount = 0
            for _ in 0..<50_000 {
                let digits = String(rng.next() % 1_000_000_000_000_000)
                let point = Int(rng.next() % UInt64(digits.count + 1))
                var text = String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
                if text.hasPrefix(".") { text = "0" + text }
                if text.hasSuffix(".") { text.removeLast() }
                if rng.next() % 3 == 0 { text += "e\(Int(rng.next() % 40) - 20)" }
                if rng.next() % 4 == 0 { text = "-" + text }
                let fast = Array(text.utf8).withUnsafeBytes { DecimalText.exactValue($0) }
                guard let fast else { continue }
                fastCount += 1
                #expect(fast.bitPattern == Double(text)!.bitPattern, "\(text)")
            }
            #expect(fastCount > 10_000)
        }
    }

    // MARK: Strings skipped eight bytes at a time

    /// Quotes at every position, escaped or not, across and within the eight-byte words and
    /// past the part read word by word: the end found is the naive one.
    @Test func skipStringFindsTheClosingQuoteWherePlainReadingDoes() async {
        await offPool {
            var rng = SplitMix64(state: 8)
            for _ in 0..<3000 {
                let length = Int(rng.next() % 80)
                var content: [UInt8] = []
                for _ in 0..<length {
                    switch rng.next() % 10 {
                    case 0: content += [0x5C, 0x22]  // \"
                    case 1: content += [0x5C, 0x5C]  // \\
                    default: content.append(UInt8(0x61 + rng.next() % 26))
                    }
                }
                let line = [0x22] + content + [0x22] + Array(#","x":"y"}"#.utf8)
                let expected = content.count + 2
                #expect(line.withUnsafeBytes { JSONLineScanner.skipString($0, 0) } == expected)
            }
        }
        let unterminated = Array(#""abc\"def"#.utf8)
        #expect(unterminated.withUnsafeBytes { JSONLineScanner.skipString($0, 0) } == nil)
    }

    // MARK: Names by their bytes

    @Test func nameTableGivesOneIdPerNameAcrossGrowth() {
        var table = NameTable()
        let names = [""] + (0..<5000).map { "route-\($0)" } + ["café", "caf", "cafe"]
        let ids = names.map { table.id($0) }
        #expect(Set(ids).count == names.count)
        for (name, id) in zip(names, ids) {
            #expect(table.id(name) == id)
            #expect(table[id] == name)
        }
        #expect(table.count == names.count)
    }

    // MARK: The batch from scanned lines

    /// Lines as producers write them (plain and escaped names, nulls, missing fields, OpenAI
    /// token names, costs and none): the batch built from what the scanner reads in place equals
    /// the one built from the scanned calls made Strings, and from the decoder's records.
    @Test func batchFromScannedLinesEqualsTheBatchFromCalls() throws {
        var rng = SplitMix64(state: 17)
        let routes = [#""support-chat""#, #""caf\u00e9""#, #""café""#, "null", #""""#, #""extract-order-with-a-long-name""#]
        let models = [#""claude-3-5-haiku""#, #""gpt-4o-mini""#, #""m""#]
        let tenants = [#""acme""#, "null", #""globex""#, #""t\"1""#]
        let pricing = Pricing(rules: [.init(model: Glob("gpt-*"), inputPerMTok: 0.15, outputPerMTok: 0.6)])
        let zone = TimeZone(identifier: "Europe/Berlin")!
        var scannedBatch = UsageBatch(pricing: pricing, timeZone: zone)
        var callBatch = UsageBatch(pricing: pricing, timeZone: zone)
        var decodedBatch = UsageBatch(pricing: pricing, timeZone: zone)
        let classifier = LineClassifier(sampler: TraceSampler(globalRate: 0))
        for index in 0..<3000 {
            let seconds = 1_795_800_000 + Int(rng.next() % 400_000)
            let timestamp =
                rng.next() % 5 == 0
                ? "\(seconds).25" : #""\#(RFC3339.format(Date(timeIntervalSince1970: Double(seconds) + Double(rng.next() % 1000) / 1000)))""#
            let usage =
                switch rng.next() % 4 {
                case 0: #"{"input_tokens":\#(rng.next() % 2000),"output_tokens":\#(rng.next() % 500)}"#
                case 1: #"{"prompt_tokens":\#(rng.next() % 2000),"completion_tokens":7}"#
                case 2: "null"
                default: "{}"
                }
            let cost = ["0.0005736", "4.35e-05", "null", "12"][Int(rng.next() % 4)]
            let status = [#""ok""#, #""OK""#, "null"][Int(rng.next() % 3)]
            let line = """
                {"trace_id":"\(String(format: "%032x", index))","timestamp":\(timestamp),"route":\(routes[Int(rng.next() % 6)]),\
                "tenant":\(tenants[Int(rng.next() % 4)]),"model":\(models[Int(rng.next() % 3)]),"input":[{"role":"user","content":"hi \\"x\\" {"}],\
                "output":"y","usage":\(usage),"latency_ms":\(rng.next() % 3000),"cost_usd":\(cost),"status":\(status),"error":null}
                """
            var bytes = Array(line.utf8)
            try bytes.withUnsafeMutableBytes { raw in
                let b = UnsafeRawBufferPointer(raw)
                let scanned = try #require(UsageScanner.read(b, withRecordID: true), "\(line)")
                scannedBatch.add(scanned, in: b)
                callBatch.add(scanned.callUsage(in: b))
                guard case .success(let record) = classifier.decode(b) else {
                    Issue.record("the decoder refused \(line)")
                    return
                }
                #expect(scanned.callUsage(in: b) == CallUsage(record: record), "\(line)")
                decodedBatch.add(CallUsage(record: record))
            }
        }
        #expect(scannedBatch.calls == 3000)
        for other in [callBatch, decodedBatch] {
            #expect(scannedBatch.calls == other.calls)
            #expect(scannedBatch.cells == other.cells)
            #expect(scannedBatch.tenantDays == other.tenantDays)
        }
        // An escaped name and its plain spelling are one route.
        #expect(scannedBatch.cells.keys.contains { $0.route == "café" })
        #expect(!scannedBatch.cells.keys.contains { $0.route.contains("\\") })
    }

    /// `status` in any case is read as the decoder reads it, including a Kelvin sign that
    /// lowercases to `k` (such text goes the decoder's way).
    @Test(arguments: ["ok", "OK", "Ok", "error", "ERROR", "eRrOr", "o\u{212A}", "okay", "err", "", "\\u006fk"])
    func statusIsReadAsTheDecoderReadsIt(status: String) {
        let line = #"{"trace_id":"a","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x","status":"\#(status)"}"#
        #expect(UsageScannerTests.scanned(line) == UsageScannerTests.decoded(line), "\(status)")
    }

    /// The word-at-a-time byte tests agree with a plain loop at every length and alignment.
    @Test func wordAtATimeByteTestsAgreeWithAPlainLoop() {
        var random = SplitMix64(state: 29)
        for _ in 0..<3_000 {
            let count = Int(random.next() % 40)
            let bytes = (0..<count).map { _ in
                switch random.next() % 8 {
                case 0: UInt8(0x5C)
                case 1: UInt8(0x80 + random.next() % 0x80)
                default: UInt8(0x20 + random.next() % 0x5C)
                }
            }
            bytes.withUnsafeBytes { b in
                let start = count == 0 ? 0 : Int(random.next() % UInt64(count + 1))
                let range = start..<count
                #expect(JSONLineScanner.contains(b, range, 0x5C) == bytes[range].contains(0x5C), "\(bytes) \(range)")
                #expect(JSONLineScanner.isASCII(b, range) == bytes[range].allSatisfy { $0 < 0x80 }, "\(bytes) \(range)")
            }
        }
    }
}
