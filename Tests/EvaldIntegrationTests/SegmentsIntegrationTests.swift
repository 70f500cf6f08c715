import EvaldCore
import EvaldTesting
import Foundation
import Testing

/// `evald explain a-N` names where a regression's failures concentrate: a regression confined
/// to one tenant names that tenant; one spread evenly names no segment.
@Suite struct SegmentsIntegrationTests {
    static let tenants = ["t0", "t1", "t2", "t3", "t4"]

    static func record(_ n: Int, fails: Bool) -> String {
        let ts = RFC3339.format(Date(timeIntervalSince1970: 1_795_824_000 + Double(n) * 10), fractional: false)
        let output = fails ? "Sorry, I cannot look that up right now." : "Your order A-\(n) ships tomorrow."
        return
            #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"\#(ts)","route":"support-chat","tenant":"\#(tenants[n % 5])","model":"gpt-4o-mini","input":[{"role":"user","content":"Where is my order A-\#(n)?"}],"output":"\#(output)","usage":{"input_tokens":120,"output_tokens":20}}"#
            + "\n"
    }

    /// 1,200 records failing 1 in 10, then 800 whose failures follow `fails`.
    static func spool(after fails: (Int) -> Bool) -> String {
        var text = ""
        for n in 0..<1200 { text += record(n, fails: n % 10 == 3) }
        for n in 1200..<2000 { text += record(n, fails: fails(n)) }
        return text
    }

    static let config = """
        checks:
          "*":
            - {name: polite, kind: not_contains, values: ["sorry"], ignore_case: true}
        """

    static func segments(_ h: EvaldHarness) throws -> [[String: Any]] {
        let alerts = try h.run(["alerts", "--json"]).json["alerts"] as? [[String: Any]] ?? []
        let regression = try #require(alerts.first { $0["alertname"] as? String == "QualityRegression" })
        let explain = try h.run(["explain", regression["id"] as? String ?? "", "--json"])
        let section = explain.json["segments"] as? [String: Any]
        #expect(section != nil, "explain --json has segments: \(explain.stdout.prefix(400))")
        return section?["segments"] as? [[String: Any]] ?? []
    }

    @Test func aRegressionConfinedToOneTenantNamesIt() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(config: Self.config)
            // After: tenant t2 fails 8 in 10, the others as before.
            try h.append("traces.jsonl", Self.spool { n in n % 5 == 2 ? (n / 5) % 10 < 8 : n % 10 == 3 })
            #expect(try h.run(["run", "--once"]).code == 0)
            let segments = try Self.segments(h)
            let significant = segments.filter { $0["significant"] as? Bool == true }
            #expect(significant.first?["dimension"] as? String == "tenant")
            #expect(significant.first?["value"] as? String == "t2")
            #expect(!significant.contains { $0["dimension"] as? String == "tenant" && $0["value"] as? String != "t2" })
            let t2 = significant.first ?? [:]
            #expect(((t2["failure_share"] as? NSNumber)?.doubleValue ?? 0) > 0.5)
            #expect(abs(((t2["traffic_share"] as? NSNumber)?.doubleValue ?? 0) - 0.2) < 0.05)
        }
    }

    @Test func aRegressionSpreadEvenlyNamesNone() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(config: Self.config)
            // After: every tenant fails 3 in 10 (the pattern is independent of n % 5).
            try h.append("traces.jsonl", Self.spool { n in (n / 5) % 10 < 3 })
            #expect(try h.run(["run", "--once"]).code == 0)
            let segments = try Self.segments(h)
            #expect(!segments.isEmpty, "the tenants are tried")
            #expect(!segments.contains { $0["significant"] as? Bool == true && $0["dimension"] as? String == "tenant" }, "\(segments)")
        }
    }
}
