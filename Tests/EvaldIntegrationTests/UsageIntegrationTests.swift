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

/// Usage from every record (SPEC 7b) through the binary: `evald report --json` totals and the
/// `evald_usage_*` counters of `/metrics` equal the sums of the spool the test wrote, for native
/// records and OTLP spans, sampled or not.
@Suite struct UsageIntegrationTests {
    struct Expected {
        var calls: Int64 = 0
        var errors: Int64 = 0
        var inputTokens: Int64 = 0
        var outputTokens: Int64 = 0
        var cost: Double = 0
        var unknownCost: Int64 = 0
        var errorClasses: [String: Int64] = [:]

        mutating func add(input: Int?, output: Int?, cost: Double?, error: String?) {
            calls += 1
            inputTokens += Int64(input ?? 0)
            outputTokens += Int64(output ?? 0)
            if let cost { self.cost += cost } else { unknownCost += 1 }
            if let error {
                errors += 1
                errorClasses[error, default: 0] += 1
            }
        }

        static func + (a: Expected, b: Expected) -> Expected {
            Expected(
                calls: a.calls + b.calls, errors: a.errors + b.errors, inputTokens: a.inputTokens + b.inputTokens,
                outputTokens: a.outputTokens + b.outputTokens, cost: a.cost + b.cost, unknownCost: a.unknownCost + b.unknownCost,
                errorClasses: a.errorClasses.merging(b.errorClasses, uniquingKeysWith: +))
        }
    }

    static let pricing = """
        pricing:
          "gpt-4o-mini*": {input_per_mtok: 0.15, output_per_mtok: 0.6}
        budgets:
          - {tenant: acme, daily_usd: 1000}
        """

    /// Writes native lines and OTLP lines with random usage; returns the expected sums overall,
    /// per route and model ("ROUTE|MODEL"), and per tenant. Each `part` has files and trace ids
    /// of its own.
    static func writeSpool(_ h: EvaldHarness, seed: UInt64, part: Int = 0) throws -> (Expected, [String: Expected], [String: Expected]) {
        var rng = SplitMix64(state: seed)
        var total = Expected()
        var byRoute: [String: Expected] = [:]
        var byTenant: [String: Expected] = [:]
        let routes = ["support-chat", "extract-order", "refunds-assist"]
        let tenants = ["acme", "globex", "initech", "umbrella"]
        let errorNames = ["RateLimitError", "timeout", "server_error"]
        let base = 1_795_858_800.0  // 2026-11-28T09:40:00Z
        var native = ""
        for n in 0..<3000 {
            let route = routes[Int(rng.next() % 3)]
            let tenant = rng.next() % 5 == 0 ? nil : tenants[Int(rng.next() % 4)]
            let isError = rng.next() % 20 == 0
            let error = isError ? errorNames[Int(rng.next() % 3)] : nil
            let input = rng.next() % 10 == 0 ? nil : Int(rng.next() % 2000)
            let output = input == nil ? nil : Int(rng.next() % 500)
            let cost: Double? = rng.next() % 8 == 0 ? nil : Double(rng.next() % 100_000) / 1e7
            let time = base + Double(n) * 1.3
            var fields = [
                #""trace_id":"\#(EvaldHarness.traceID(part * 100_000 + n))""#, #""timestamp":\#(time)"#, #""route":"\#(route)""#, #""model":"gpt-4o""#,
                #""input":[{"role":"user","content":"question \"\#(n)\" with {braces}"}]"#,
            ]
            if let tenant { fields.append(#""tenant":"\#(tenant)""#) }
            fields.append(isError ? #""status":"error","error":"\#(error!): details \#(n)""# : #""output":"answer \#(n)","status":"ok""#)
            if let input { fields.append(#""usage":{"input_tokens":\#(input),"output_tokens":\#(output!)}"#) }
            if let cost { fields.append(#""cost_usd":\#(cost)"#) }
            fields.append(#""latency_ms":\#(100 + n % 900)"#)
            fields.append(#""metadata":{"request_id":"req-\#(n)"}"#)
            native += "{" + fields.joined(separator: ",") + "}\n"
            total.add(input: input, output: output, cost: cost, error: error)
            byRoute["\(route)|gpt-4o", default: Expected()].add(input: input, output: output, cost: cost, error: error)
            if let tenant { byTenant[tenant, default: Expected()].add(input: input, output: output, cost: cost, error: error) }
        }
        let suffix = part == 0 ? "" : "-\(part)"
        try native.write(toFile: h.spool + "/native\(suffix).jsonl", atomically: true, encoding: .utf8)

        // OTLP: spans carry no cost; gpt-4o-mini is priced, claude is not.
        var otlp = ""
        for line in 0..<100 {
            var spans: [String] = []
            for index in 0..<10 {
                let n = part * 100_000 + 10_000 + line * 10 + index
                let model = index % 3 == 0 ? "claude-3-5-haiku" : "gpt-4o-mini"
                let tenant = tenants[n % 4]
                let input = Int(rng.next() % 3000)
                let output = Int(rng.next() % 700)
                let isError = rng.next() % 25 == 0
                let start = UInt64((base + Double(line) * 20) * 1e9) + UInt64(index) * 1_000_000
                var attributes = [
                    #"{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}}"#,
                    #"{"key":"gen_ai.request.model","value":{"stringValue":"\#(model)"}}"#,
                    #"{"key":"gen_ai.usage.input_tokens","value":{"intValue":"\#(input)"}}"#,
                    #"{"key":"gen_ai.usage.output_tokens","value":{"intValue":\#(output)}}"#,
                    #"{"key":"evald.tenant","value":{"stringValue":"\#(tenant)"}}"#,
                ]
                if isError { attributes.append(#"{"key":"error.type","value":{"stringValue":"timeout"}}"#) }
                spans.append(
                    #"{"traceId":"\#(EvaldHarness.traceID(n))","spanId":"\#(String(format: "%016x", n))","name":"chat","startTimeUnixNano":"\#(start)","endTimeUnixNano":"\#(start + 250_000_000)","attributes":[\#(attributes.joined(separator: ","))],"status":{"code":\#(isError ? 2 : 0)}}"#
                )
                let cost = model == "gpt-4o-mini" ? (Double(input) * 0.15 + Double(output) * 0.6) / 1e6 : nil
                total.add(input: input, output: output, cost: cost, error: isError ? "timeout" : nil)
                byRoute["otel-app|\(model)", default: Expected()].add(input: input, output: output, cost: cost, error: isError ? "timeout" : nil)
                byTenant[tenant, default: Expected()].add(input: input, output: output, cost: cost, error: isError ? "timeout" : nil)
            }
            // A non-LLM span in every line: skipped, not counted.
            spans.append(
                #"{"traceId":"\#(EvaldHarness.traceID(part * 100_000 + line))","spanId":"00000000000000aa","name":"db","startTimeUnixNano":"1","endTimeUnixNano":"2"}"#
            )
            otlp +=
                #"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"otel-app"}}]},"scopeSpans":[{"spans":[\#(spans.joined(separator: ","))]}]}]}"#
                + "\n"
        }
        try otlp.write(toFile: h.spool + "/otlp\(suffix).jsonl", atomically: true, encoding: .utf8)
        return (total, byRoute, byTenant)
    }

    static func number(_ value: Any?) -> Double { (value as? NSNumber)?.doubleValue ?? .nan }

    static func expectSums(_ summary: [String: Any], _ expected: Expected, _ what: String) {
        #expect(number(summary["calls"]) == Double(expected.calls), "\(what) calls")
        #expect(number(summary["errors"]) == Double(expected.errors), "\(what) errors")
        #expect(number(summary["input_tokens"]) == Double(expected.inputTokens), "\(what) input tokens")
        #expect(number(summary["output_tokens"]) == Double(expected.outputTokens), "\(what) output tokens")
        #expect(abs(number(summary["cost_usd"]) - expected.cost) < 1e-5, "\(what) cost")
        #expect(number(summary["unknown_cost_calls"]) == Double(expected.unknownCost), "\(what) unknown cost")
    }

    /// The `evald_usage_*` series of a scrape equal `expected`, per route and model: exact for
    /// calls, errors by class and tokens; cost to rounding (the daemon sums it in another order).
    static func expectCounters(_ samples: [String: Double], _ expected: [String: Expected], _ what: String) {
        let families = ["evald_usage_calls_total{", "evald_usage_errors_total{", "evald_usage_tokens_total{", "evald_usage_cost_usd_total{"]
        let usage = samples.filter { sample in families.contains(where: sample.key.hasPrefix) }
        var series = 0
        for (key, sums) in expected {
            let parts = key.split(separator: "|", omittingEmptySubsequences: false)
            let labels = #"route="\#(parts[0])",model="\#(parts[1])""#
            #expect(usage["evald_usage_calls_total{\(labels)}"] == Double(sums.calls), "\(what) \(key) calls")
            for (errorClass, count) in sums.errorClasses {
                #expect(usage[#"evald_usage_errors_total{\#(labels),class="\#(errorClass)"}"#] == Double(count), "\(what) \(key) \(errorClass)")
            }
            #expect(usage[#"evald_usage_tokens_total{\#(labels),direction="input"}"#] == Double(sums.inputTokens), "\(what) \(key) input")
            #expect(usage[#"evald_usage_tokens_total{\#(labels),direction="output"}"#] == Double(sums.outputTokens), "\(what) \(key) output")
            let cost = usage["evald_usage_cost_usd_total{\(labels)}"] ?? .nan
            #expect(abs(cost - sums.cost) <= 1e-9 * max(1, sums.cost), "\(what) \(key) cost \(cost) != \(sums.cost)")
            series += 4 + sums.errorClasses.count
        }
        // Nothing else: no series for a route, model or class the spool does not have.
        #expect(usage.count == series, "\(what): \(usage.keys.sorted())")
    }

    /// `/metrics` counts the usage of every call the daemon reads, native records and OTLP
    /// spans, sampled (1%) or not. The counters come from the committed batches, not from the
    /// usage rows: pruning those while the daemon runs (what retention does past
    /// `rollup_days`) lowers nothing, and what is read next adds to the counts.
    @Test func metricsCountersEqualTheSpoolsSumsAndOutliveThePrunedRows() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(config: Self.pricing, rate: 0.01, listen: "127.0.0.1:0")
            let (first, firstByRoute, _) = try Self.writeSpool(h, seed: 11)
            let daemon = try h.startDaemon()
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            let port = h.httpPort()
            try #require(port > 0)
            func scrape() async throws -> String {
                let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
                return String(decoding: data, as: UTF8.self)
            }
            /// Scrapes until the calls counted reach `calls` (60 s at most).
            func scrape(untilCalls calls: Int64) async throws -> [String: Double] {
                var samples: [String: Double] = [:]
                let deadline = Date() + 60
                repeat {
                    if !samples.isEmpty { usleep(100_000) }
                    samples = QualityMetricsIntegrationTests.samples(try await scrape())
                } while samples.filter({ $0.key.hasPrefix("evald_usage_calls_total{") }).values.reduce(0, +) < Double(calls) && Date() < deadline
                return samples
            }
            var samples = try await scrape(untilCalls: first.calls)
            Self.expectCounters(samples, firstByRoute, "first spool")

            // The usage rows go (the spool is from 2026-11-28: past any rollup_days of 1)...
            let store = try h.store()
            #expect(try store.pruneRollups(before: Date(), limit: 1_000_000) > 0)
            #expect(
                try h.run(["report", "--json", "--since", "2026-11-28T00:00:00Z", "--until", "2026-11-29T00:00:00Z"]).json["totals"].map {
                    Self.number(($0 as? [String: Any])?["calls"])
                } == 0)
            // ...and the counters stay, then add what is read next.
            Self.expectCounters(QualityMetricsIntegrationTests.samples(try await scrape()), firstByRoute, "after pruning")
            let (second, secondByRoute, _) = try Self.writeSpool(h, seed: 12, part: 1)
            samples = try await scrape(untilCalls: first.calls + second.calls)
            Self.expectCounters(samples, firstByRoute.merging(secondByRoute, uniquingKeysWith: +), "both spools")
            #expect(samples.filter { $0.key.hasPrefix("evald_metrics_series_dropped_total{family=\"evald_usage") }.values.allSatisfy { $0 == 0 })
            QualityMetricsIntegrationTests.promtool(try await scrape(), root: h.root)
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
        }
    }

    @Test func reportTotalsEqualTheSpoolsSums() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(config: Self.pricing, rate: 0.01)
            let (total, byRoute, byTenant) = try Self.writeSpool(h, seed: 7)
            #expect(try h.run(["run", "--once"]).code == 0)
            let result = try h.run(["report", "--json", "--since", "2026-11-28T00:00:00Z", "--until", "2026-11-29T00:00:00Z", "--top", "3"])
            #expect(result.code == 0, "\(result.stderr)")
            let report = result.json
            let totals = report["totals"] as? [String: Any] ?? [:]
            Self.expectSums(totals, total, "totals")
            let classes = totals["error_classes"] as? [String: Any] ?? [:]
            #expect(classes.mapValues(Self.number) == total.errorClasses.mapValues(Double.init))

            let routes = report["routes"] as? [[String: Any]] ?? []
            #expect(routes.count == byRoute.count)
            for row in routes {
                let key = "\(row["route"] as? String ?? "")|\(row["model"] as? String ?? "")"
                Self.expectSums(row, byRoute[key] ?? Expected(), key)
                let latency = row["latency_ms"] as? [String: Any] ?? [:]
                #expect(Self.number(latency["p50"]) > 0, "\(key) latency")
            }
            let tenants = report["tenants"] as? [[String: Any]] ?? []
            #expect(tenants.count == byTenant.count)
            for row in tenants {
                let name = row["tenant"] as? String ?? ""
                let expected = byTenant[name] ?? Expected()
                #expect(Self.number(row["calls"]) == Double(expected.calls), "\(name)")
                #expect(abs(Self.number(row["cost_usd"]) - expected.cost) < 1e-5, "\(name)")
                // Four tenants fit the sketch: all are exact, but only acme is named in a budget.
                #expect(row["exact"] as? Bool == (name == "acme"))
            }
            let topBySpend = byTenant.sorted { $0.value.cost > $1.value.cost }.prefix(3).map(\.key)
            #expect(report["top_by_spend"] as? [String] == topBySpend)
            // The previous day had nothing.
            #expect(Self.number((report["previous"] as? [String: Any])?["calls"]) == 0)

            // Another run over the same state adds nothing (no call counted twice).
            #expect(try h.run(["run", "--once"]).code == 0)
            let again = try h.run(["report", "--json", "--since", "2026-11-28T00:00:00Z", "--until", "2026-11-29T00:00:00Z"]).json
            Self.expectSums(again["totals"] as? [String: Any] ?? [:], total, "after a second run")

            // Every failed call is stored, sampled or not, and found by its class; a request id finds its trace.
            let timeouts = try h.run(["traces", "--json", "--error-class", "timeout", "--since", "2026-11-28T00:00:00Z", "--limit", "10000"])
            #expect(timeouts.code == 0, "\(timeouts.stderr)")
            let found = timeouts.json["traces"] as? [[String: Any]] ?? []
            #expect(found.count == Int(total.errorClasses["timeout"] ?? 0))
            #expect(found.allSatisfy { $0["error_class"] as? String == "timeout" })
            #expect(found.allSatisfy { $0["source"] as? String == "failed_call" || $0["source"] as? String == "sample" })
            // A request id finds its trace (native failed calls carry metadata.request_id).
            let native = found.first { $0["request_id"] is String }
            #expect(native != nil)
            if let native, let requestID = native["request_id"] as? String {
                let byRequest =
                    try h.run(["traces", "--json", "--request-id", requestID, "--since", "2026-11-28T00:00:00Z"]).json["traces"] as? [[String: Any]]
                #expect(byRequest?.count == 1)
                #expect(byRequest?.first?["trace_id"] as? String == native["trace_id"] as? String)
            }

            // The markdown form is a document with tables.
            let markdown = try h.run(["report", "--format", "markdown", "--since", "2026-11-28T00:00:00Z", "--until", "2026-11-29T00:00:00Z"])
            #expect(markdown.code == 0)
            #expect(markdown.stdout.hasPrefix("# Usage report"))
            #expect(markdown.stdout.contains("| ROUTE | MODEL | CALLS |"))
            #expect(markdown.stdout.contains("calls carried no cost_usd and matched no `pricing:` rule"))
        }
    }
}
