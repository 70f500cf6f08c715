import EvaldCore
import EvaldTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// What `evald status` and `/metrics` say about work still to do, through the binary:
/// scheduled report delivery per receiver, and the usage journal detection has not consumed.
@Suite(.serialized) struct DeliveryStatusIntegrationTests {
    /// A receiver that accepts, one that fails with 503 (retried) and one that refuses with 400
    /// (given up): status names each one's state and /metrics counts each outcome.
    @Test func statusAndMetricsShowEachReceiversReportDelivery() async throws {
        try await onTestThreads {
            let schedule = DailyReportSchedule()
            let periodEnd = schedule.periodEnd
            let hooks = try await StubHTTPServer.start(handler: StubHTTPServer.goodFlakyRefused)
            defer { Task { try? await hooks.stop() } }
            let names = ["good", "flaky", "refused"]
            let h = try EvaldHarness(
                config: EvaldHarness.webhookAlertsConfig(Dictionary(uniqueKeysWithValues: names.map { ($0, "\(hooks.baseURL)/\($0)") }))
                    + "\n" + schedule.config(receivers: names), rate: 0.01, listen: "127.0.0.1:0")
            try h.append("calls.jsonl", (0..<20).map { Self.call($0, at: periodEnd - 1800 + Double($0)) }.joined())
            let daemon = try h.startDaemon()
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            let port = h.httpPort()
            try #require(port > 0)

            func receivers() throws -> [String: [String: Any]] {
                let reports = try h.status()["reports"] as? [String: Any]
                let list = reports?["receivers"] as? [[String: Any]] ?? []
                return Dictionary(list.map { ($0["receiver"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
            }
            #expect(
                try h.waitUntil(timeout: 60) {
                    let states = try receivers()
                    return states["good"]?["state"] as? String == "sent" && states["refused"]?["state"] as? String == "given_up"
                        && ((states["flaky"]?["attempts"] as? NSNumber)?.intValue ?? 0) >= 2
                })
            let states = try receivers()
            let periodText = RFC3339.format(Date(timeIntervalSince1970: periodEnd), fractional: false)
            for name in names {
                #expect(states[name]?["period_end"] as? String == periodText, "\(name)")
            }
            #expect(states["flaky"]?["state"] as? String == "pending")
            #expect(states["flaky"]?["next_attempt_at"] is String)
            #expect(states["good"]?["sent_at"] is String)
            #expect(states["good"]?["next_attempt_at"] is NSNull)
            #expect(states["refused"]?["gave_up_at"] is String)
            #expect((try h.status()["reports"] as? [String: Any])?["pending"] as? NSNumber == 1)

            let text = try h.run(["status"]).stdout
            #expect(text.contains("good: period "), "\(text)")
            #expect(text.contains("flaky: period ") && text.contains(" pending, "), "\(text)")
            #expect(text.contains("refused: period ") && text.contains("GIVEN UP"), "\(text)")
            #expect(text.contains("1 waiting to be sent"), "\(text)")

            let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
            let scrape = String(decoding: data, as: UTF8.self)
            #expect(Self.sample(scrape, "evald_reports_sent_total", receiver: "good") == 1, "\(scrape)")
            #expect(Self.sample(scrape, "evald_reports_sent_total", receiver: "flaky") == 0)
            #expect((Self.sample(scrape, "evald_reports_retried_total", receiver: "flaky") ?? 0) >= 2)
            #expect(Self.sample(scrape, "evald_reports_given_up_total", receiver: "refused") == 1)
            #expect(Self.sample(scrape, "evald_reports_given_up_total", receiver: "good") == 0)
            // Reports are not alert notifications.
            #expect(scrape.contains("evald_notifications_sent_total 0"))
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
        }
    }

    /// Usage rows committed but not yet fed to the op: detectors keep status from saying
    /// "caught up": a `run --once` whose detection stops after its first round (1,000 rows)
    /// leaves 500 of 1,500 one-call minutes; the next run feeds them.
    @Test func statusIsNotCaughtUpWhileTheUsageJournalHasRows() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(rate: 0.01)
            let start = (Date().timeIntervalSince1970 / 60).rounded(.down) * 60 - 2 * 86400
            try h.append("calls.jsonl", (0..<1500).map { Self.call($0, at: start + 60 * Double($0)) }.joined())
            let once = try h.run(["run", "--once", "--detection-timeout", "1ms"])
            #expect(once.code == 0, "\(once.stderr)")
            let detection = try #require(try h.status()["detection"] as? [String: Any])
            #expect(detection["usage_backlog_rows"] as? NSNumber == 500)
            #expect(detection["usage_backlog_calls"] as? NSNumber == 500)
            #expect(detection["caught_up"] as? Bool == false)
            let text = try h.run(["status"]).stdout
            #expect(!text.contains("caught up with ingest"), "\(text)")
            #expect(text.contains("500 calls (500 usage rows) not yet fed to the op: detectors"), "\(text)")

            #expect(try h.run(["run", "--once"]).code == 0)
            let after = try #require(try h.status()["detection"] as? [String: Any])
            #expect(after["usage_backlog_rows"] as? NSNumber == 0)
            #expect(after["caught_up"] as? Bool == true)
            #expect(try h.run(["status"]).stdout.contains("caught up with ingest"))
        }
    }

    /// One native record of route support-chat at `at` (Unix seconds).
    static func call(_ n: Int, at: Double) -> String {
        #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":\#(at),"route":"support-chat","model":"gpt-4o","tenant":"acme","#
            + #""input":[{"role":"user","content":"q"}],"status":"ok","output":"fine","usage":{"input_tokens":100,"output_tokens":20},"#
            + #""cost_usd":0.001,"latency_ms":300}"# + "\n"
    }

    /// The value of `name{receiver="…"}` in a scrape, nil when absent.
    static func sample(_ scrape: String, _ name: String, receiver: String) -> Double? {
        let prefix = "\(name){receiver=\"\(receiver)\"} "
        return scrape.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
    }
}
