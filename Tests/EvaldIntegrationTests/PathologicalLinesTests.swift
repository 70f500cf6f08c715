import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

/// Hostile lines in the spool, through the binary: each is quarantined with a reason that says
/// what is wrong, or accepted as docs/input-formats.md says, and the lines after it are read.
@Suite struct PathologicalLinesTests {
    static func record(_ n: Int, output: String = #""ok""#, extra: String = "") -> String {
        #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"2026-11-28T10:00:00Z","route":"r","model":"m","input":[{"role":"user","content":"hi"}],"output":\#(output)\#(extra)}"#
    }

    @Test func eachHostileLineIsQuarantinedWithItsReasonOrAcceptedAsDocumented() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(config: "checks:\n  \"*\":\n    - {name: ok, kind: status_ok}\n")
            var bytes = Data()
            func line(_ text: String) { bytes.append(Data(text.utf8)); bytes.append(0x0A) }
            // A BOM at the start of the file, then the first record: accepted.
            bytes.append(contentsOf: [0xEF, 0xBB, 0xBF])
            line(Self.record(1))
            // Nesting 100,000 deep: quarantined (the parser stops at 256 levels).
            line(Self.record(2, extra: #","x":"# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)))
            // A number of 10,000 digits where a string belongs: quarantined; inside metadata: accepted.
            line(Self.record(3, output: "1" + String(repeating: "0", count: 10_000)))
            line(Self.record(4, extra: #","metadata":{"n":1"# + String(repeating: "0", count: 10_000) + "}"))
            // A lone surrogate in a \u escape: accepted, replaced by U+FFFD.
            line(Self.record(5, output: #""\ud800 alone""#))
            // A raw NUL byte in a string: quarantined (a control character); escaped (\u0000): accepted.
            bytes.append(Data(Self.record(6, output: "\"o").utf8))
            bytes.append(contentsOf: [0x00])
            line("k\"}")
            line(Self.record(7, output: #""o\u0000k""#))
            // Overlong UTF-8 ("/" as C0 AF): quarantined.
            bytes.append(Data(Self.record(8, output: "\"a").utf8))
            bytes.append(contentsOf: [0xC0, 0xAF])
            line("b\"}")
            // CRLF line end: accepted.
            bytes.append(Data(Self.record(9).utf8))
            bytes.append(contentsOf: [0x0D, 0x0A])
            // Duplicate keys: accepted, the first one wins.
            line(Self.record(10, extra: #","route":"dup""#))
            // A line longer than spool.max_line_bytes (4 MiB by default): quarantined unread.
            line(Self.record(11, output: "\"" + String(repeating: "x", count: 5_000_000) + "\""))
            // After all of it, a plain record.
            line(Self.record(12))
            try bytes.write(to: URL(fileURLWithPath: h.spool + "/hostile.jsonl"))

            let run = try h.run(["run", "--once", "--json"])
            #expect(run.code == 0, "\(run.stderr)")
            let spool = try #require(run.json["spool"] as? [String: Any])
            #expect(spool["lines_read"] as? Int == 12)
            #expect(spool["quarantined"] as? Int == 5, "\(run.stderr)")
            let store = try h.store()
            let stored = Set(try store.evaluations().map(\.traceID))
            for n in [1, 4, 5, 7, 9, 10, 12] { #expect(stored.contains(EvaldHarness.traceID(n)), "record \(n) should be stored") }
            for n in [2, 3, 6, 8, 11] { #expect(!stored.contains(EvaldHarness.traceID(n)), "record \(n) should be quarantined") }
            let quarantine = try h.run(["spool", "quarantine", "--json"])
            let reasons = ((quarantine.json["lines"] as? [[String: Any]]) ?? []).map { "\($0["reason"] ?? "")" }
            #expect(reasons.sorted() == ["invalid_field", "invalid_json", "invalid_json", "invalid_utf8", "line_too_long"], "\(quarantine.stdout)")
            #expect(run.stderr.contains("nested deeper than 256 levels"), "\(run.stderr)")
            #expect(run.stderr.contains("control character"))
            #expect(run.stderr.contains("not valid UTF-8"))
        }
    }
}
