import EvaldCore
import EvaldTesting
import Foundation
import Testing

@Suite struct MetricsMathTests {
    @Test func wilsonIntervalMatchesKnownValues() throws {
        // 8 of 10: (0.4902, 0.9433), the textbook value.
        let ci = try #require(WilsonInterval.bounds(passes: 8, n: 10))
        #expect(abs(ci.low - 0.4902) < 1e-4 && abs(ci.high - 0.9433) < 1e-4)
        let all = try #require(WilsonInterval.bounds(passes: 20, n: 20))
        #expect(all.high == 1 && abs(all.low - 0.8389) < 1e-4)
        #expect(WilsonInterval.bounds(passes: 0, n: 0) == nil)
    }

    @Test func histogramQuantilesAreWithinOnePercent() async {
        await offPool {
            var rng = SplitMix64(state: 3)
            var values: [Double] = []
            var histogram = LogHistogram()
            for _ in 0..<20_000 {
                // Lognormal-ish latencies around a second.
                let u = Double(rng.next() % 1_000_000) / 1_000_000 + 1e-9
                let value = exp(6.9 + 0.6 * (-2 * log(u)).squareRoot() * cos(2 * .pi * Double(rng.next() % 1000) / 1000))
                values.append(value)
                histogram.record(value)
            }
            values.sort()
            for q in [0.5, 0.95, 0.99] {
                let exact = values[Int((q * Double(values.count)).rounded(.up)) - 1]
                let estimate = histogram.quantile(q)!
                #expect(abs(estimate - exact) / exact < 0.011, "q\(q): \(estimate) vs \(exact)")
            }
        }
    }

    @Test func histogramMergesAndRoundTrips() {
        var a = LogHistogram(), b = LogHistogram()
        for v in [10.0, 20, 30] { a.record(v) }
        for v in [1000.0, 2000] { b.record(v) }
        a.merge(b)
        #expect(a.total == 5)
        #expect(LogHistogram(serialized: a.serialized) == a)
        #expect(LogHistogram(serialized: Data([1, 2, 3])) == nil)
        #expect(LogHistogram().quantile(0.5) == nil)
        // Sub-millisecond values share the floor bucket.
        var tiny = LogHistogram()
        tiny.record(0.2)
        #expect(tiny.quantile(0.5) == 1)
    }

    /// The histogram keeps most buckets in an array window and wild ones aside: whatever the
    /// values (narrow, spreading, far apart, sub-floor, huge) and however histograms are merged
    /// and stored, it holds exactly the counts a plain map of buckets holds.
    @Test func histogramHoldsWhatAPlainMapOfBucketsHolds() {
        var rng = SplitMix64(state: 11)
        for round in 0..<200 {
            var parts = [LogHistogram(), LogHistogram(), LogHistogram()]
            var expected: [Int32: Int64] = [:]
            for _ in 0..<Int(rng.next() % 400) {
                let value: Double
                switch rng.next() % 10 {
                case 0: value = Double(rng.next() % 1000) / 1000  // at or below the floor
                case 1: value = pow(10, Double(rng.next() % 300))  // anywhere up to 1e299
                case 2: value = 1e9 * Double(1 + rng.next() % 5)
                default: value = 100 + Double(rng.next() % (round % 2 == 0 ? 500 : 30_000))
                }
                let count = Int64(1 + rng.next() % 3)
                parts[Int(rng.next() % 3)].record(value, count: count)
                expected[LogHistogram.bucket(value), default: 0] += count
            }
            var merged = parts[0]
            merged.merge(parts[1])
            merged.merge(parts[2])
            var other = parts[2]
            other.merge(parts[0])
            other.merge(parts[1])
            #expect(merged.counts == expected)
            #expect(merged.total == expected.values.reduce(0, +))
            #expect(merged.buckets.map(\.bucket) == expected.keys.sorted())
            #expect(merged == other, "merging in another order")
            #expect(LogHistogram(serialized: merged.serialized) == merged)
            #expect(LogHistogram(serialized: merged.serialized)?.counts == expected)
        }
    }

    @Test func rollupBatchCountsEverySeries() {
        var batch = RollupBatch()
        var ok = record(route: "r", latency: 100, cost: 0.01, outputTokens: 50)
        ok.timestamp = Date(timeIntervalSince1970: 120.5)  // minute 2
        var failed = record(output: nil, route: "r", status: .error, latency: 300)
        failed.timestamp = Date(timeIntervalSince1970: 150)
        batch.add(ok, checks: [CheckResult(name: "fast", kind: "latency", passed: true, detail: "")])
        batch.add(failed, checks: [CheckResult(name: "fast", kind: "latency", passed: false, detail: "")])
        let op = batch.operational[RollupKey(metric: "", route: "r", model: "m", minute: 2)]
        func cell(_ metric: String) -> RollupCell? { op?.series.first { $0.metric == metric }?.cell }
        #expect(cell("op:error_rate")?.n == 2)
        #expect(cell("op:error_rate")?.passN == 1)
        #expect(batch.cells[RollupKey(metric: "check:fast", route: "r", model: "m", minute: 2)]?.passN == 1)
        #expect(cell("op:latency_ms")?.sum == 400)
        #expect(cell("op:latency_ms")?.histogram?.total == 2)
        #expect(cell("op:cost_usd")?.n == 1)
        #expect(cell("op:output_tokens")?.sum == 50)
        #expect(batch.operational.count == 1)
    }
}
