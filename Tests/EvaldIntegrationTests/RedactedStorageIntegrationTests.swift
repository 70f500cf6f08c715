import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

/// `storage.redact: true` through the binary: no e-mail, card, phone or key from the spool is
/// left anywhere in the state directory's files, in the raw bytes nor in the records once
/// inflated (the compact layout deflates them, so a raw scan alone would prove nothing).
@Suite(.serialized) struct RedactedStorageIntegrationTests {
    static let secrets = [
        "jane.roe@example.com", "4111 1111 1111 1111", "+44 20 7946 0958", "AKIAIOSFODNN7EXAMPLE",
        "sk-proj-u8jzPde0IgxLd6GncfBA-epfJBd0Kh8oOOL8dKLzd_ocJ2isAjIhKt", "078-05-1120",
    ]

    static func spool(_ n: Int) -> String {
        let line =
            #"{"trace_id":"%@","timestamp":"2026-11-28T10:00:00.000Z","route":"support-chat","model":"gpt-4o-mini","#
            + #""input":[{"role":"system","content":"You are Ava."},{"role":"user","content":"I am jane.roe@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958 (%d)"},"#
            + #"{"role":"tool","content":"{\"ssn\": \"078-05-1120\"}"}],"#
            + #""output":"Noted jane.roe@example.com; your key is AKIAIOSFODNN7EXAMPLE","#
            + #""tool_calls":[{"name":"lookup","arguments":"{\"key\": \"sk-proj-u8jzPde0IgxLd6GncfBA-epfJBd0Kh8oOOL8dKLzd_ocJ2isAjIhKt\"}"}],"#
            + #""reference":"mail jane.roe@example.com","metadata":{"customer":"jane.roe@example.com"},"latency_ms":10}"#
        var text = ""
        for i in 0..<n { text += String(format: line, EvaldHarness.traceID(i), i) + "\n" }
        // A malformed line (quarantined, with an excerpt) carrying PII too.
        text += #"{"trace_id": "x", "output": "call +44 20 7946 0958 or mail jane.roe@example.com", "#
        text += "\n"
        return text
    }

    func runOnce(redact: Bool) throws -> EvaldHarness {
        let h = try EvaldHarness(
            config: """
                checks:
                  "*":
                    - {name: no-pii, kind: pii}
                    - {name: no-pii-in, kind: pii, target: input_all}
                storage: {redact: \(redact)}
                """)
        try Self.spool(40).write(toFile: h.spool + "/traces.jsonl", atomically: true, encoding: .utf8)
        let once = try h.run(["run", "--once"])
        #expect(once.code == 0, "\(once.stderr)")
        return h
    }

    /// Every record inflated through evald's own reader, plus quarantine and explain output.
    func storedTexts(_ h: EvaldHarness) throws -> [String] {
        let store = try h.store()
        let count = try store.evaluationCount()
        #expect(count == 40)
        let ids = (1...Int64(max(1, count))).map { $0 }
        var texts = try ids.compactMap { try store.recordJSON(evaluationID: $0) }
        texts.append(try h.run(["spool", "quarantine", "--json"]).stdout)
        texts.append(try h.run(["explain", "e-\(ids[0])"]).stdout)
        return texts
    }

    @Test func redactedStorageKeepsNoPIIAnywhereInTheDatabase() async throws {
        try await onTestThreads {
            let h = try runOnce(redact: true)
            let texts = try storedTexts(h)
            let joined = texts.joined(separator: "\n")
            for secret in Self.secrets { #expect(!joined.contains(secret), "\(secret) is stored") }
            #expect(joined.contains("[REDACTED:email]") && joined.contains("[REDACTED:payment_card]") && joined.contains("[REDACTED:secret]"))
            #expect(texts.last?.contains("[REDACTED:email]") == true, "explain shows the redacted text: \(texts.last ?? "")")
            // The raw bytes of every file in the state directory (database, WAL, shared memory).
            for name in try FileManager.default.contentsOfDirectory(atPath: h.state) {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: h.state + "/" + name))
                for secret in Self.secrets { #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(secret) in the raw bytes of \(name)") }
            }
            // Checks ran on the text as it arrived: the pii checks failed (with masked details).
            let explain = texts.last ?? ""
            #expect(explain.contains("FAIL no-pii (pii)") && explain.contains("FAIL no-pii-in (pii)"), "\(explain)")
        }
    }

    /// The control: without redaction the same spool's PII is in the inflated records, so the
    /// test above can fail.
    @Test func withoutRedactionTheRecordsHoldThePII() async throws {
        try await onTestThreads {
            let h = try runOnce(redact: false)
            let joined = try storedTexts(h).joined(separator: "\n")
            #expect(joined.contains("jane.roe@example.com"))
            #expect(joined.contains("AKIAIOSFODNN7EXAMPLE"))
        }
    }
}
