import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `report:` (SPEC 7b) through the binary: the period's report reaches a webhook once, with the
/// spool's numbers, across `run --once`, kill -9 while it is queued, and a restart after it was
/// sent.
@Suite(.serialized) struct ScheduledReportIntegrationTests {
    @Test func aScheduledReportIsDeliveredOncePerPeriodAcrossKill9() async throws {
        try await onTestThreads {
            // Daily periods ending at the last whole hour but one (UTC): the period the test
            // expects ended one to two hours ago, and the next ends 22 hours from now at least.
            let hour = 3600.0, day = 86400.0
            let periodEnd = (Date().timeIntervalSince1970 / hour).rounded(.down) * hour - hour
            let at = String(format: "%02d:00", Int(periodEnd.truncatingRemainder(dividingBy: day) / hour))
            let up = LockedFlag()
            let hook = try await StubHTTPServer.start { _ in up.isSet ? .respond(status: 200, body: []) : .closeConnection }
            defer { Task { try? await hook.stop() } }
            let h = try EvaldHarness(
                config: """
                    alerts:
                      max_backoff: 300ms
                      receivers:
                        - {name: hook, kind: webhook, url: "\(hook.baseURL)/hook"}
                    report: {every: 1d, at: "\(at)", timezone: UTC, receivers: [hook]}
                    """, rate: 0.01)
            // 40 calls in the period (4 errors), 10 in the day before it.
            var lines = ""
            var cost = 0.0
            for n in 0..<50 {
                let inPeriod = n < 40
                let ts = periodEnd - (inPeriod ? 1800 : day + 1800) + Double(n)
                let status = inPeriod && n % 13 == 0 ? #""status":"error","error":"timeout after 30s""# : #""status":"ok","output":"fine""#
                if inPeriod { cost += 0.001 * Double(n) }
                lines +=
                    #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":\#(ts),"route":"support-chat","model":"gpt-4o","tenant":"acme","#
                    + #""input":[{"role":"user","content":"q"}],\#(status),"usage":{"input_tokens":100,"output_tokens":20},"#
                    + #""cost_usd":\#(0.001 * Double(n)),"latency_ms":300}"# + "\n"
            }
            try h.append("calls.jsonl", lines)

            // `run --once` queues the report; the receiver is down, so it stays queued.
            _ = try h.run(["run", "--once", "--notify-timeout", "2s"])
            #expect(try h.store().reportDeliveries().count == 1)
            // kill -9 while it is queued, twice: still one row, nothing sent.
            for round in 0..<2 {
                let daemon = try h.startDaemon(logName: "daemon-\(round).log")
                usleep(1_500_000)
                kill(daemon.processIdentifier, SIGKILL)
                daemon.waitUntilExit()
            }
            let queued = try h.store().reportDeliveries()
            #expect(queued.count == 1)
            #expect(queued.first?.sentAt == nil)
            #expect(queued.first?.periodEnd.timeIntervalSince1970 == periodEnd)

            let beforeUp = hook.requests.count
            up.set()
            let daemon = try h.startDaemon(logName: "daemon-up.log")
            #expect(try h.waitUntil(timeout: 30) { try h.store().reportDeliveries().first?.sentAt != nil })
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
            let afterSent = hook.requests.count
            let again = try h.startDaemon(logName: "daemon-again.log")
            usleep(6_500_000)
            kill(again.processIdentifier, SIGTERM)
            again.waitUntilExit()
            _ = try h.run(["run", "--once", "--notify-timeout", "2s"])

            let delivered = hook.requests.dropFirst(beforeUp).filter { $0.path == "/hook" }.compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any]
            }.filter { $0["kind"] as? String == "evald.report" }
            // Sent and recorded: restarts send nothing again.
            #expect(hook.requests.count == afterSent)
            // Every request after the receiver came up got a 2xx: one delivery (a second only when
            // a loaded machine made the client time out before the stub answered; it carries the
            // same report_id, which a consumer deduplicates on).
            try #require(!delivered.isEmpty)
            #expect(Set(delivered.compactMap { $0["report_id"] as? String }) == ["report-\(Int(periodEnd))"])
            let report = delivered[0]
            let period = try #require(report["period"] as? [String: Any])
            #expect(period["since"] as? String == RFC3339.format(Date(timeIntervalSince1970: periodEnd - day), fractional: false))
            #expect(period["until"] as? String == RFC3339.format(Date(timeIntervalSince1970: periodEnd), fractional: false))
            let totals = try #require(report["totals"] as? [String: Any])
            #expect((totals["calls"] as? NSNumber)?.intValue == 40)
            #expect((totals["errors"] as? NSNumber)?.intValue == 4)
            #expect((totals["input_tokens"] as? NSNumber)?.intValue == 4000)
            #expect(abs(((totals["cost_usd"] as? NSNumber)?.doubleValue ?? 0) - cost) < 1e-9)
            #expect((report["markdown"] as? String)?.hasPrefix("# Usage report") == true)
            #expect(try h.store().counters()["reports_sent"] == 1)
        }
    }
}
