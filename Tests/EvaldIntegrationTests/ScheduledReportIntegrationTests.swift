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
            let schedule = DailyReportSchedule()
            let periodEnd = schedule.periodEnd, day = DailyReportSchedule.day
            let hook = try await OutageWebhook.start()
            defer { hook.stop() }
            let h = try EvaldHarness(config: hook.alertsConfig + "\n" + schedule.config(receivers: ["hook"]), rate: 0.01)
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
            try h.killDaemon(rounds: 2, after: 1.5)
            let queued = try h.store().reportDeliveries()
            #expect(queued.count == 1)
            #expect(queued.first?.sentAt == nil)
            #expect(queued.first?.periodEnd.timeIntervalSince1970 == periodEnd)

            let outcome = try h.deliverAfterOutage(hook, settle: 6.5) { try h.store().reportDeliveries().first?.sentAt != nil }
            #expect(outcome.delivered)
            let requestsBeforeOnce = hook.server.requests.count
            _ = try h.run(["run", "--once", "--notify-timeout", "2s"])

            let delivered = outcome.requestsWhileUp.filter { $0.path == "/hook" }.compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any]
            }.filter { $0["kind"] as? String == "evald.report" }
            // Sent and recorded: restarts send nothing again.
            #expect(outcome.requestsAfterRestart == 0)
            #expect(hook.server.requests.count == requestsBeforeOnce)
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
