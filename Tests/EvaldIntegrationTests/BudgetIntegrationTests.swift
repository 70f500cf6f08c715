import EvaldCore
import EvaldTesting
import Foundation
import Testing

/// Budgets through the binary: the accounts advance call by call at ingest, so the alerts name
/// the very record that crossed, with the spend at that moment.
@Suite struct BudgetIntegrationTests {
    static func line(_ n: Int, at time: Double, route: String, tenant: String, cost: Double) -> String {
        #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":\#(time),"route":"\#(route)","tenant":"\#(tenant)","model":"gpt-4o","output":"ok","cost_usd":\#(cost)}"#
            + "\n"
    }

    static func alerts(_ h: EvaldHarness) throws -> [[String: Any]] {
        try h.run(["alerts", "--all", "--json"]).json["alerts"] as? [[String: Any]] ?? []
    }

    static func number(_ alert: [String: Any]?, _ key: String) -> Double? {
        ((alert?["numbers"] as? [String: Any])?[key] as? NSNumber)?.doubleValue
    }

    @Test func aBudgetCrossedMidSpoolWarnsThenExceedsAtTheRightRecord() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(
                config: """
                    budgets:
                      - {route: "support-*", daily_usd: 50, warn_at: 0.8}
                      - {route: "billing", daily_usd: 1000}
                    """, rate: 0.01)
            // 100 calls of $1 on support-chat, one every 10 minutes from 01:00 UTC; billing spends little.
            let start = 1_795_834_800.0  // 2026-11-28T01:00:00Z
            var text = ""
            for n in 0..<100 {
                text += Self.line(n, at: start + Double(n) * 600, route: "support-chat", tenant: "acme", cost: 1)
                text += Self.line(1000 + n, at: start + Double(n) * 600 + 1, route: "billing", tenant: "acme", cost: 0.5)
            }
            try h.append("traces.jsonl", text)
            let run = try h.run(["run", "--once"])
            #expect(run.code == 0, "\(run.stderr)")
            let alerts = try Self.alerts(h)
            let warning = alerts.first { $0["alertname"] as? String == "BudgetWarning" }
            let exceeded = alerts.first { $0["alertname"] as? String == "BudgetExceeded" }
            #expect(warning?["severity"] as? String == "warning")
            #expect(exceeded?["severity"] as? String == "critical")
            #expect((warning?["labels"] as? [String: String])?["route"] == "support-*")
            #expect((exceeded?["labels"] as? [String: String])?["budget"] == "daily_usd")
            #expect((exceeded?["labels"] as? [String: String])?["period"] == "2026-11-28")
            // $40 is reached by the 40th call (n = 39), $50 by the 50th (n = 49).
            #expect(Self.number(warning, "crossing_spend") == 40)
            #expect(Self.number(warning, "crossed_at") == start + 39 * 600)
            #expect(Self.number(exceeded, "crossing_spend") == 50)
            #expect(Self.number(exceeded, "crossed_at") == start + 49 * 600)
            #expect(Self.number(exceeded, "spend") == 100)
            #expect(Self.number(exceeded, "limit") == 50)
            let description = (exceeded?["annotations"] as? [String: String])?["description"] ?? ""
            #expect(description.contains(EvaldHarness.traceID(49)), "\(description)")
            #expect(description.contains("support-chat/gpt-4o $100.00"), "top spenders: \(description)")
            // The billing budget ($50 of $1000) fires nothing.
            #expect(!alerts.contains { ($0["labels"] as? [String: String])?["route"] == "billing" })

            // A second run over the same state changes nothing: each call counted once.
            #expect(try h.run(["run", "--once"]).code == 0)
            let again = try Self.alerts(h)
            #expect(again.count == alerts.count)
            #expect(Self.number(again.first { $0["alertname"] as? String == "BudgetExceeded" }, "spend") == 100)

            // The next day's first call starts a new period: the day's alerts resolve.
            try h.append("traces.jsonl", Self.line(5000, at: start + 86400, route: "support-chat", tenant: "acme", cost: 1))
            #expect(try h.run(["run", "--once"]).code == 0)
            let nextDay = try Self.alerts(h).filter { ($0["alertname"] as? String)?.hasPrefix("Budget") == true }
            #expect(nextDay.count == 2)
            #expect(nextDay.allSatisfy { $0["state"] as? String == "resolved" })
        }
    }

    @Test func aRunawayTenantFiresCostRunaway() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(config: "budgets:\n  - {tenant: \"*\", daily_usd: 100}", rate: 0.01)
            let start = 1_795_827_600.0  // 2026-11-27T23:00:00Z... the day before, quiet traffic
            var text = ""
            var n = 0
            // Five tenants at $0.10 a call, a call each per 5 minutes for 3 hours.
            for step in 0..<36 {
                for tenant in ["a", "b", "c", "d", "e"] {
                    text += Self.line(n, at: start + 3600 + Double(step) * 300, route: "chat", tenant: tenant, cost: 0.1)
                    n += 1
                }
            }
            // Then tenant "loop" spends $2 a call, 20 calls in 10 minutes: $40 in the last hour,
            // which would spend its remaining $60 in 1.5 h.
            for step in 0..<20 {
                text += Self.line(n, at: start + 3600 + 3 * 3600 + Double(step) * 30, route: "chat", tenant: "loop", cost: 2)
                n += 1
            }
            try h.append("traces.jsonl", text)
            #expect(try h.run(["run", "--once"]).code == 0)
            let alerts = try Self.alerts(h)
            let runaway = alerts.filter { $0["alertname"] as? String == "CostRunaway" }
            #expect(runaway.count == 1)
            #expect((runaway.first?["labels"] as? [String: String])?["tenant"] == "loop")
            #expect(Self.number(runaway.first, "spend") == 40)
            #expect(!alerts.contains { ["BudgetWarning", "BudgetExceeded"].contains($0["alertname"] as? String ?? "") })
        }
    }
}
