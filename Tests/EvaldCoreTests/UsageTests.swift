import EvaldCore
import EvaldTesting
import Foundation
import Testing

@Suite struct UsageScannerTests {
    static func scanned(_ line: String) -> CallUsage? {
        var line = line
        return line.withUTF8 { UsageScanner.scan(UnsafeRawBufferPointer($0), withRecordID: true) }
    }

    static func decoded(_ line: String) -> CallUsage? {
        var line = line
        let classifier = LineClassifier(sampler: TraceSampler(globalRate: 0))
        return line.withUTF8 { bytes -> CallUsage? in
            guard case .success(let record) = classifier.decode(UnsafeRawBufferPointer(bytes)) else { return nil }
            return CallUsage(record: record)
        }
    }

    /// Whatever the scanner reads, the full decoder reads the same; when the scanner gives up,
    /// the caller decodes (so only agreement on what it reads matters).
    @Test(arguments: [
        #"{"trace_id":"a","timestamp":"2026-11-28T10:00:00.123Z","route":"r","tenant":"acme","model":"m","input":[{"role":"user","content":"hi \"there\" {"}],"output":"x","usage":{"input_tokens":812,"output_tokens":164},"latency_ms":1432,"cost_usd":0.00121,"status":"ok","error":null}"#,
        #"{"trace_id":"b","timestamp":1764324000.5,"model":"m","status":"error","error":"RateLimitError: slow down"}"#,
        #"{"trace_id":"c","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"y","usage":{"prompt_tokens":3,"completion_tokens":4}}"#,
        #"{"trace_id":"d","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"y","usage":{"input_tokens":5,"prompt_tokens":3,"completion_tokens":4}}"#,
        #"{"trace_id":"e","timestamp":"2026-11-28T10:00:00Z","route":"caf\u00e9","model":"m","output":"y","status":"ERROR"}"#,
        #" { "trace_id" : "f" , "timestamp" : "2026-11-28T10:00:00Z" , "model" : "m" , "output" : "y" , "usage" : { } , "tenant" : null } "#,
        #"{"trace_id":"g","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"y","metadata":{"a":[1,2,{"b":"}"}]},"feedback":"up"}"#,
        #"{"trace_id":"h","timestamp":"2026-11-28T10:00:00Z","model":"m","status":"error"}"#,
    ])
    func scannerAgreesWithTheDecoder(line: String) {
        let scanned = Self.scanned(line)
        #expect(scanned != nil, "the scanner should read this line plainly")
        #expect(scanned == Self.decoded(line))
    }

    /// Lines the decoder rejects are never counted by the scanner (the caller quarantines them).
    @Test(arguments: [
        #"{"trace_id":"a","timestamp":"2026-11-28T10:00:00Z","output":"x"}"#,
        #"{"trace_id":"a","model":"m","output":"x"}"#,
        #"{"timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x"}"#,
        #"{"trace_id":"a","timestamp":"2026-11-28T10:00:00Z","model":"m"}"#,
        #"{"trace_id":"a","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x","latency_ms":"fast"}"#,
        #"{"trace_id":"a","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x","usage":{"input_tokens":-1}}"#,
        #"{"trace_id":"a","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x","status":"maybe"}"#,
        #"{"trace_id":"a","timestamp":"yesterday","model":"m","output":"x"}"#,
        #"{"trace_id":"a","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x""#,
        #"{"trace_id":"a","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x"} trailing"#,
        #"{"trace_id":"","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x"}"#,
    ])
    func scannerRefusesWhatTheDecoderRejects(line: String) {
        #expect(Self.scanned(line) == nil)
        #expect(Self.decoded(line) == nil)
    }

    /// A member the scanner reads that repeats is left to the decoder, where the first one wins
    /// (as in the sampling decision): the scanner never counts the last one instead.
    @Test(arguments: [
        (#"{"trace_id":"a","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x","route":"first","route":"second"}"#, "route"),
        (#"{"trace_id":"a","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x","model":"other"}"#, "model"),
        (#"{"trace_id":"a","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x","cost_usd":null,"cost_usd":1}"#, "cost"),
        (#"{"trace_id":"a","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"x","usage":{"input_tokens":1,"input_tokens":9}}"#, "tokens"),
    ])
    func aRepeatedMemberIsLeftToTheDecoderWhereTheFirstWins(line: String, member: String) throws {
        #expect(Self.scanned(line) == nil)
        let decoded = try #require(Self.decoded(line))
        switch member {
        case "route": #expect(decoded.route == "first")
        case "model": #expect(decoded.model == "m")
        case "cost": #expect(decoded.costUSD == nil)
        default: #expect(decoded.inputTokens == 1)
        }
    }

    @Test func errorClassIsTheFirstWord() {
        #expect(CallUsage.errorClass(of: "RateLimitError: slow down") == "RateLimitError")
        #expect(CallUsage.errorClass(of: "  timeout after 30s") == "timeout")
        #expect(CallUsage.errorClass(of: "openai.APIError(500)") == "openai.APIError")
        #expect(CallUsage.errorClass(of: "") == "unknown")
        #expect(CallUsage.errorClass(of: nil) == "unknown")
    }

    @Test func pricingPricesTokensOnlyWhenNoCostIsGiven() {
        let pricing = Pricing(rules: [
            .init(model: Glob("gpt-4o-mini*"), inputPerMTok: 0.15, outputPerMTok: 0.6), .init(model: Glob("gpt-4o*"), inputPerMTok: 2.5, outputPerMTok: 10),
        ])
        var call = CallUsage(timestamp: 0, route: nil, tenant: nil, model: "gpt-4o-mini", inputTokens: 1_000_000, outputTokens: 500_000)
        #expect(abs(pricing.cost(of: call)! - 0.45) < 1e-12)
        call.model = "gpt-4o-2024-08-06"
        #expect(abs(pricing.cost(of: call)! - 7.5) < 1e-12)
        call.costUSD = 0.01
        #expect(pricing.cost(of: call) == 0.01)
        call.costUSD = nil
        call.model = "claude-3-5-haiku"
        #expect(pricing.cost(of: call) == nil)
        call.model = "gpt-4o"
        call.inputTokens = nil
        call.outputTokens = nil
        #expect(pricing.cost(of: call) == nil)
    }

    @Test func batchSumsPerMinuteAndTenantDay() {
        var batch = UsageBatch(
            pricing: Pricing(rules: [.init(model: Glob("*"), inputPerMTok: 1, outputPerMTok: 2)]), timeZone: TimeZone(identifier: "America/New_York")!)
        // 2026-11-28T04:30Z is still the 27th in New York.
        let early = 1_795_840_200.0
        batch.add(CallUsage(timestamp: early, route: "r", tenant: "acme", model: "m", inputTokens: 10, outputTokens: 5, latencyMs: 100, costUSD: 0.5))
        batch.add(CallUsage(timestamp: early + 10, route: "r", tenant: "acme", model: "m", errorClass: "timeout", inputTokens: 1_000_000))
        batch.add(CallUsage(timestamp: early + 70, route: "r", tenant: "acme", model: "m"))
        batch.add(CallUsage(timestamp: early + 6 * 3600, route: nil, tenant: "acme", model: "m", outputTokens: 3))
        #expect(batch.calls == 4)
        let cells = batch.cells
        let first = cells[UsageMinuteKey(minute: Int64(early / 60), route: "r", model: "m")]!
        #expect(first.calls == 2)
        #expect(first.errors == 1)
        #expect(first.errorClasses == ["timeout": 1])
        #expect(first.inputTokens == 1_000_010)
        #expect(abs(first.costUSD - 1.5) < 1e-12)
        #expect(first.unknownCostCalls == 0)
        #expect(first.latency.total == 1)
        #expect(cells[UsageMinuteKey(minute: Int64(early / 60) + 1, route: "r", model: "m")]?.unknownCostCalls == 1)
        #expect(cells.values.reduce(0) { $0 + $1.calls } == 4)
        #expect(batch.tenantDays[TenantDayKey(day: "2026-11-27", tenant: "acme")]?.calls == 3)
        #expect(batch.tenantDays[TenantDayKey(day: "2026-11-28", tenant: "acme")]?.outputTokens == 3)
    }
}

@Suite struct TenantSketchTests {
    /// 100,000 tenants with Zipf-distributed calls, in random order: the sketch of 1,000 keeps
    /// the true top 10 in the right order, and every kept count brackets the truth.
    @Test func keepsTheTrueTopTenOfAZipfPopulation() async throws {
        try await offPool {
            var rng = SplitMix64(state: 42)
            let population = 100_000
            // Zipf (s = 1.1) by inverse CDF over a precomputed table.
            var cumulative: [Double] = []
            var sum = 0.0
            for rank in 1...population {
                sum += 1 / pow(Double(rank), 1.1)
                cumulative.append(sum)
            }
            var truth = [Int64](repeating: 0, count: population)
            var sketch = TenantSketch()
            var batch: [String: TenantUsage] = [:]
            for call in 0..<1_000_000 {
                let u = Double(rng.next() >> 11) / Double(1 << 53) * sum
                var low = 0, high = population - 1
                while low < high {
                    let mid = (low + high) / 2
                    if cumulative[mid] < u { low = mid + 1 } else { high = mid }
                }
                truth[low] += 1
                batch["tenant-\(low)", default: TenantUsage()].add(CallUsage(timestamp: 0, route: nil, tenant: nil, model: "m"), cost: 0.001)
                // Batches of 5,000 calls, as ingest commits them.
                if call % 5000 == 4999 {
                    for (tenant, usage) in batch.sorted(by: { $0.key < $1.key }) { sketch.add(tenant, usage) }
                    batch = [:]
                }
            }
            #expect(sketch.entries.count == TenantSketch.defaultCapacity)
            let trueTop = (0..<population).sorted { truth[$0] > truth[$1] }.prefix(10).map { "tenant-\($0)" }
            let sketchTop = sketch.entries.sorted { $0.value.usage.calls > $1.value.usage.calls }.prefix(10).map(\.key)
            #expect(sketchTop == trueTop)
            for (tenant, entry) in sketch.entries {
                let actual = truth[Int(tenant.dropFirst(7))!]
                #expect(entry.usage.calls >= actual && entry.usage.calls - entry.error.calls <= actual, "\(tenant)")
                #expect(entry.error.calls <= sketch.errorBound)
            }
            #expect(sketch.errorBound <= 1_000_000 / Int64(TenantSketch.defaultCapacity))
        }
    }

    @Test func aNewTenantTakesTheSmallestPlaceAndInheritsItsCounts() {
        var sketch = TenantSketch(capacity: 2)
        sketch.add("a", TenantUsage(calls: 5, costUSD: 5))
        sketch.add("b", TenantUsage(calls: 2, costUSD: 1))
        let change = sketch.add("c", TenantUsage(calls: 1, costUSD: 0.5))
        #expect(change.evicted == "b")
        #expect(sketch.entries["c"] == .init(usage: TenantUsage(calls: 3, costUSD: 1.5), error: TenantUsage(calls: 2, costUSD: 1)))
        #expect(sketch.errorBound == 3)
    }
}

@Suite struct FailureSegmentsTests {
    static func traces(count: Int, failing: (Int) -> Bool) -> [FailureSegments.Trace] {
        (0..<count).map { n in
            FailureSegments.Trace(failed: failing(n), segments: ["tenant": "t\(n % 5)", "tool": n % 2 == 0 ? "lookup" : "none", "everyone": "x"])
        }
    }

    /// A pseudo-random draw per trace, independent of the segments (n % 5, n % 2).
    static func draw(_ n: Int) -> Int {
        var random = SplitMix64(state: UInt64(n) &+ 1000)
        return Int(random.next() % 100)
    }

    @Test func aConfinedRegressionIsNamedAndNothingElse() {
        let baseline = Self.traces(count: 2000) { Self.draw($0) < 10 }
        let current = Self.traces(count: 800) { n in Self.draw(n) < (n % 5 == 1 ? 70 : 10) }
        let segments = FailureSegments.analyze(current: current, baseline: baseline)
        #expect(segments.filter(\.significant).map { "\($0.dimension)=\($0.value)" } == ["tenant=t1"])
        // A segment that is all the traffic is not a concentration.
        #expect(!segments.contains { $0.dimension == "everyone" })
    }

    @Test func aSpreadRegressionNamesNone() {
        let baseline = Self.traces(count: 2000) { Self.draw($0) < 10 }
        let current = Self.traces(count: 800) { Self.draw($0) < 30 }
        let segments = FailureSegments.analyze(current: current, baseline: baseline)
        #expect(!segments.isEmpty)
        #expect(segments.allSatisfy { !$0.significant })
    }

    @Test func languageAndLengthBuckets() {
        #expect(FailureSegments.language(of: "Where is my order and what is the status?") == "en")
        #expect(FailureSegments.language(of: "Wo ist meine Bestellung und wie ist der Status?") == "de")
        #expect(FailureSegments.language(of: "Где мой заказ?") == "cyrillic")
        #expect(FailureSegments.inputLengthBucket(1200) == "500-2k tokens")
        #expect(FailureSegments.inputLengthBucket(nil) == nil)
    }
}
