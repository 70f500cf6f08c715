import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

/// `storage.redact: true` through the binary: no e-mail, card, phone or key from the spool, nor
/// from a candidate's answers stored by `evald replay`, is left anywhere in the state
/// directory's files, in the raw bytes nor in the records once inflated (the compact layout
/// deflates them, so a raw scan alone would prove nothing).
@Suite(.serialized) struct RedactedStorageIntegrationTests {
    static let secrets =
        [
            "jane.roe@example.com", "4111 1111 1111 1111", "+44 20 7946 0958", "AKIAIOSFODNN7EXAMPLE",
            "sk-proj-u8jzPde0IgxLd6GncfBA-epfJBd0Kh8oOOL8dKLzd_ocJ2isAjIhKt", "078-05-1120",
        ] + candidateSecrets + [failedCallSecret]

    /// Only in the failed calls outside the sample.
    static let failedCallSecret = "erika.mustermann@example.de"

    /// What the candidate endpoint answers to every replayed input: new PII, in no spool line.
    static let candidateSecrets = ["max.mustermann@example.org", "5500 0000 0000 0004", "AKIAI44QH8DHBEXAMPLE"]
    static let candidateAnswer =
        "Sure: the customer is \(candidateSecrets[0]), card \(candidateSecrets[1]), and my key is \(candidateSecrets[2])."

    static let failedCalls = 5

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
        // Failed calls of a route sampled at 0: kept outside the sample (`evald traces`).
        let failed =
            #"{"trace_id":"%@","timestamp":"2026-11-28T10:00:00.000Z","route":"failing-calls","model":"gpt-4o-mini","status":"error","#
            + #""error":"\#(failedCallSecret): mailbox full","#
            + #""input":[{"role":"user","content":"card 4111 1111 1111 1111, call +44 20 7946 0958"}]}"#
        for i in n..<(n + failedCalls) { text += String(format: failed, EvaldHarness.traceID(i)) + "\n" }
        // A malformed line (quarantined, with an excerpt) carrying PII too.
        text += #"{"trace_id": "x", "output": "call +44 20 7946 0958 or mail jane.roe@example.com", "#
        text += "\n"
        return text
    }

    /// The spool read once, then 5 of its inputs replayed against the candidate `endpoint`.
    func runOnce(redact: Bool, endpoint: String) throws -> EvaldHarness {
        let h = try EvaldHarness(
            config: """
                endpoints:
                  candidate: {kind: openai, base_url: "\(endpoint)/v1", model: gpt-4o-mini, timeout: 60s}
                checks:
                  "*":
                    - {name: no-pii, kind: pii}
                    - {name: no-pii-in, kind: pii, target: input_all}
                storage: {redact: \(redact)}
                """)
        // Failed calls of this route are never sampled: stored apart, as failed calls.
        let config = try String(contentsOfFile: h.configPath, encoding: .utf8)
        let routed = config.replacingOccurrences(of: "  rate: 1.0\n", with: "  rate: 1.0\n  routes: {\"failing-*\": 0}\n")
        #expect(routed != config)
        try h.writeConfig(routed)
        try Self.spool(40).write(toFile: h.spool + "/traces.jsonl", atomically: true, encoding: .utf8)
        let once = try h.run(["run", "--once"])
        #expect(once.code == 0, "\(once.stderr)")
        let replay = try h.run([
            "replay", "--route", "support-chat", "--endpoint", "candidate", "--sample", "5", "--since", "2026-11-01T00:00:00Z",
        ])
        #expect(replay.code == 0 || replay.code == 1, "\(replay.stdout)\(replay.stderr)")
        return h
    }

    /// Runs `body` with a candidate endpoint on 127.0.0.1 that answers every input with new PII.
    func withCandidate(_ body: (String) throws -> Void) async throws {
        try await withStub({ try await StubJudgeServer.start(default: { _ in Self.candidateAnswer }) }) { stub, _ in
            try await onTestThreads { try body(stub.baseURL) }
        }
    }

    /// Every record inflated through evald's own reader, plus quarantine and explain output.
    func storedTexts(_ h: EvaldHarness) throws -> [String] {
        let store = try h.store()
        let count = try store.evaluationCount()
        #expect(count == 40)
        let ids = (1...Int64(max(1, count))).map { $0 }
        var texts = try ids.compactMap { try store.recordJSON(evaluationID: $0) }
        texts.append(try h.run(["spool", "quarantine", "--json"]).stdout)
        // The failed calls kept outside the sample, inflated, and as `evald traces` lists them.
        let calls = try (1...Int64(Self.failedCalls)).compactMap { try store.failedCallRecordJSON(id: $0) }
        #expect(calls.count == Self.failedCalls)
        texts += calls
        texts.append(try h.run(["traces", "--route", "failing-calls", "--since", "2026-11-01T00:00:00Z", "--json"]).stdout)
        // The replay's stored answers, as its own store reads them (production and candidate).
        let replay = try #require(try store.replay(id: 1))
        #expect(replay.items.filter { $0.state == .done }.count == 5)
        texts += replay.items.flatMap { [$0.productionOutput, $0.candidateOutput].compactMap { $0 } }
        texts.append(try h.run(["explain", "e-\(ids[0])"]).stdout)
        return texts
    }

    @Test func redactedStorageKeepsNoPIIAnywhereInTheDatabase() async throws {
        try await withCandidate { endpoint in
            let h = try runOnce(redact: true, endpoint: endpoint)
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
        try await withCandidate { endpoint in
            let h = try runOnce(redact: false, endpoint: endpoint)
            let joined = try storedTexts(h).joined(separator: "\n")
            #expect(joined.contains("jane.roe@example.com"))
            #expect(joined.contains("AKIAIOSFODNN7EXAMPLE"))
            for secret in Self.candidateSecrets { #expect(joined.contains(secret), "the candidate's \(secret) is stored as answered") }
            #expect(joined.contains(Self.failedCallSecret), "the failed calls are stored as they came")
        }
    }
}
