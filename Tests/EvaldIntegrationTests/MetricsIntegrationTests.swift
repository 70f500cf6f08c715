import EvaldCore
import EvaldTesting
import Foundation
import Testing

/// `evald metrics` on a spool whose expected numbers this test computes on its own.
@Suite(.serialized) struct MetricsIntegrationTests {
    struct Trace {
        var n: Int
        var route: String
        var model: String
        var latency: Int
        var failed: Bool
        var output: String?
        var json: String
    }

    static func traces() -> [Trace] {
        (0..<900).map { n in
            let route = ["support-chat", "extract-order", "refunds-assist"][n % 3]
            let model = n % 5 == 0 ? "claude-3-5-haiku" : "gpt-4o-mini"
            let latency = (n * 37) % 5000
            let failed = n % 17 == 0
            var output: String? = nil
            if !failed {
                output = route == "extract-order" && n % 4 != 0 ? #"{"order_id": "A-\#(n)"}"# : "Answer number \(n)."
            }
            let timestamp = RFC3339.format(Date(timeIntervalSince1970: 1_795_860_000 + Double(n * 7)))
            var fields = [
                #""trace_id":"\#(EvaldHarness.traceID(n))""#, #""timestamp":"\#(timestamp)""#, #""route":"\#(route)""#,
                #""model":"\#(model)""#, #""latency_ms":\#(latency)"#, #""status":"\#(failed ? "error" : "ok")""#,
            ]
            if let output {
                let escaped = output.replacingOccurrences(of: "\"", with: "\\\"")
                fields.append(#""output":"\#(escaped)""#)
            }
            return Trace(n: n, route: route, model: model, latency: latency, failed: failed, output: output, json: "{" + fields.joined(separator: ",") + "}\n")
        }
    }

    @Test func metricsMatchCountsComputedIndependently() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(
                config: """
                    checks:
                      "*":
                        - {name: fast, kind: latency, max_ms: 2500}
                        - {name: ok, kind: status_ok}
                      "extract-*":
                        - {name: json, kind: json_valid}
                    """, rate: 1)
            let traces = Self.traces()
            try h.append("a.jsonl", traces.map(\.json).joined())
            let once = try h.run(["run", "--once"])
            #expect(once.code == 0)
            #expect(once.stdout.contains("900 records, 900 sampled, 0 quarantined"), "\(once.stdout) \(once.stderr.suffix(500))")
            let result = try h.run(["metrics", "--json", "--window", "3d", "--until", "2026-11-30T00:00:00Z"])
            #expect(result.code == 0, "\(result.stderr)")
            let series = result.json["series"] as? [[String: Any]] ?? []

            func row(_ metric: String, _ route: String, _ model: String) -> [String: Any]? {
                series.first { $0["metric"] as? String == metric && $0["route"] as? String == route && $0["model"] as? String == model }
            }
            var compared = 0
            for route in ["support-chat", "extract-order", "refunds-assist"] {
                for model in ["claude-3-5-haiku", "gpt-4o-mini"] {
                    let group = traces.filter { $0.route == route && $0.model == model }
                    let fast = group.filter { $0.latency <= 2500 }.count
                    let ok = group.filter { !$0.failed }.count
                    let fastRow = try #require(row("check:fast", route, model), "\(result.stdout.prefix(600)) \(result.stderr.prefix(600))")
                    #expect(fastRow["n"] as? Int == group.count)
                    #expect(abs((fastRow["pass_rate"] as? Double ?? -1) - Double(fast) / Double(group.count)) < 1e-4)
                    let low = fastRow["ci_low"] as? Double ?? 2, high = fastRow["ci_high"] as? Double ?? -1
                    #expect(low <= Double(fast) / Double(group.count) && Double(fast) / Double(group.count) <= high)
                    #expect(abs((row("check:ok", route, model)?["pass_rate"] as? Double ?? -1) - Double(ok) / Double(group.count)) < 1e-4)
                    let errorRate = try #require(row("op:error_rate", route, model))
                    #expect(abs((errorRate["value"] as? Double ?? -1) - Double(group.count - ok) / Double(group.count)) < 1e-6)
                    let latency = try #require(row("op:latency_ms", route, model))
                    let mean = Double(group.map(\.latency).reduce(0, +)) / Double(group.count)
                    #expect(abs((latency["value"] as? Double ?? -1) - mean) < 1e-3)
                    // p50 from the histogram is within 2% (plus the 1 ms floor) of the exact median.
                    let sorted = group.map { Double($0.latency) }.sorted()
                    let median = sorted[Int((0.5 * Double(sorted.count)).rounded(.up)) - 1]
                    #expect(abs((latency["p50"] as? Double ?? -1) - median) <= max(1, 0.02 * median))
                    if route == "extract-order" {
                        let answered = group.filter { $0.output != nil }
                        let valid = answered.filter { $0.output!.hasPrefix("{") }.count
                        let json = try #require(row("check:json", route, model))
                        #expect(json["n"] as? Int == answered.count)  // error traces have no output to check
                        #expect(abs((json["pass_rate"] as? Double ?? -1) - Double(valid) / Double(answered.count)) < 1e-4)
                    } else {
                        #expect(row("check:json", route, model) == nil)
                    }
                    compared += 1
                }
            }
            #expect(compared == 6)

            // Filters and the readable table.
            let filtered = try h.run([
                "metrics", "--json", "--window", "3d", "--until", "2026-11-30T00:00:00Z", "--route", "extract-order", "--model", "gpt-4o-mini",
            ])
            let rows = filtered.json["series"] as? [[String: Any]] ?? []
            #expect(!rows.isEmpty && rows.allSatisfy { $0["route"] as? String == "extract-order" && $0["model"] as? String == "gpt-4o-mini" })
            let table = try h.run(["metrics", "--window", "3d", "--until", "2026-11-30T00:00:00Z"])
            #expect(table.stdout.contains("check:fast"))
            #expect(table.stdout.contains("95% CI"))
            // A window with nothing in it says so.
            let empty = try h.run(["metrics", "--window", "1h"])
            #expect(empty.stdout.contains("no evaluations"))
            #expect(try h.run(["metrics", "--window", "soon"]).code == 2)
        }
    }

    @Test func checkConfigReportsBadChecksWithFileAndKey() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(
                config: """
                    checks:
                      "*":
                        - {name: schema, kind: json_schema, schema: nowhere.json}
                        - {name: pat, kind: not_regex, pattern: "(oops"}
                    """)
            let result = try h.run(["check-config"])
            #expect(result.code == 2)
            #expect(result.stderr.contains("checks.*[0].schema: cannot read schema file \(h.root)/nowhere.json: it does not exist"))
            #expect(result.stderr.contains("checks.*[1].pattern"))
            #expect(try h.run(["run", "--once"]).code == 2)
        }
    }
}
