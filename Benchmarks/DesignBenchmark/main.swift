// The detector design benchmark: how long a threshold takes to find for every detector kind at
// targets from 1e3 to 1e12 samples, and whether the chain's exponential tail that makes the
// large targets cheap keeps its promise (agreement with the exact Brook-Evans chain, and a
// simulated false-alarm rate within the budget). Prints a Markdown section for
// Benchmarks/RESULTS.md. Seeded (SplitMix64): the numbers reproduce.
//
// Usage: evald-design-benchmark [--quick]       (release build: Benchmarks/run_design_benchmark.sh)
import EvaldCore
import EvaldTesting
import Foundation

let quick = CommandLine.arguments.contains("--quick")
let tailOnly = CommandLine.arguments.contains("--tail-only")
/// How far the exact region runs in the comparison of the tail with the chain.
let comparisonCap = CommandLine.arguments.firstIndex(of: "--cap").flatMap { Double(CommandLine.arguments[$0 + 1]) } ?? 1e13
let comparisonWork = CommandLine.arguments.firstIndex(of: "--work").flatMap { Int(CommandLine.arguments[$0 + 1]) } ?? 1
let targets: [Double] = [1e3, 1e6, 1e9, 1e12]

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// The slowest of `repeats` runs (a design is deterministic; the max is what a daemon waits).
func worst(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    var slowest = 0.0
    for _ in 0..<repeats { slowest = max(slowest, try seconds(body)) }
    return slowest
}

let repeats = quick ? 1 : 5
let p90 = PassRateBaseline(samples: 5_000, passes: 4_500)
let nearPerfect = PassRateBaseline(samples: 20_000, passes: 19_990)
let scores = ScoreBaseline(counts: [30, 40, 100, 330, 500])
let allFives = ScoreBaseline(counts: [1, 0, 2, 40, 9_000])
let latency = LogValueBaseline(samples: 5_000, mean: log(800), standardDeviation: 0.4)

let kinds: [(String, (Double) throws -> Double)] = [
    ("pass rate, p0 0.90, guarded", { try BernoulliCUSUM(baseline: p90, minDrop: 0.05, targetARL: $0, guard: .standard(minDrop: 0.05)).threshold }),
    ("pass rate, p0 0.9995, guarded", { try BernoulliCUSUM(baseline: nearPerfect, minDrop: 0.05, targetARL: $0, guard: .standard(minDrop: 0.05)).threshold }),
    ("mean score, guarded", { try ScoreCUSUM(baseline: scores, minMeanDrop: 0.1, targetARL: $0).threshold }),
    ("mean score, nearly all 5s, guarded", { try ScoreCUSUM(baseline: allFives, minMeanDrop: 0.1, targetARL: $0).threshold }),
    ("log latency", { try LogValueCUSUM(baseline: latency, minRatio: 1.25, targetARL: $0).threshold }),
    ("recovery, pass rate", { try RecoveryCUSUM(baseline: p90, minDrop: 0.05, resolveSamples: 100, falseResolveEvery: $0).design.threshold }),
    ("recovery, mean score", { try ScoreRecovery(baseline: scores, minMeanDrop: 0.1, resolveSamples: 100, falseResolveEvery: $0).design.mirrored.threshold }),
    (
        "recovery, log latency",
        { try LogValueRecovery(baseline: latency, minRatio: 1.25, resolveSamples: 100, falseResolveEvery: $0).design.mirrored.threshold }
    ),
    ("floor window (0.99)", { _ in Double(SeriesMonitor.floorWindow(minimum: 0.99, resolveSamples: 100)) }),
]

if !tailOnly {
    print("## Detector design at any target (evald-design-benchmark)\n")
    print("Time to design one detector (the slowest of \(repeats) runs), release build, this machine; threshold in the detector's own units.\n")
    print("| detector | " + targets.map { "target \(String(format: "%.0e", $0))" }.joined(separator: " | ") + " |")
    print("|---|" + targets.map { _ in "---:" }.joined(separator: "|") + "|")
    var slowest = 0.0
    for (name, design) in kinds {
        var cells: [String] = []
        for target in targets {
            var threshold = 0.0
            let time = try worst(repeats) { threshold = try design(target) }
            slowest = max(slowest, time)
            cells.append(String(format: "%.2f ms (h %.2f)", time * 1000, threshold))
        }
        print("| \(name) | " + cells.joined(separator: " | ") + " |")
    }
    print("\nSlowest design: \(String(format: "%.2f", slowest * 1000)) ms (goal: under 20 ms at every target up to 1e12).\n")
}

// MARK: the tail against the exact chain

print("### The tail against the exact chain\n")
print(
    "Each curve's exact region cut short at an ARL of \(String(format: "%.0e", comparisonCap)) (the daemon's curves stop at 1e10), so the tail is compared with the chain solved outright past its anchors, up to 1e12.\n"
)
print("| distribution | exact region ends (units) | threshold (units) | tail ARL | chain ARL | error |")
print("|---|---:|---:|---:|---:|---:|")
var worstError = 0.0
let stepSets: [(String, [LatticeStep])] = [
    ("pass rate p0 0.90", try BernoulliCUSUM(baseline: p90, minDrop: 0.05, targetARL: 1_000, guard: .none).design.steps(failRate: p90.failRate)),
    (
        "pass rate p0 0.9995",
        try BernoulliCUSUM(baseline: nearPerfect, minDrop: 0.05, targetARL: 1_000, guard: .none).design.steps(failRate: nearPerfect.failRate)
    ),
    ("scores", try ScoreCUSUM(baseline: scores, minMeanDrop: 0.1, targetARL: 1_000, estimationGuard: false).design.steps(probabilities: scores.probabilities)),
    (
        "scores, nearly all 5s",
        try ScoreCUSUM(baseline: allFives, minMeanDrop: 0.1, targetARL: 1_000, estimationGuard: false).design.steps(probabilities: allFives.probabilities)
    ),
    ("log latency", try LogValueCUSUM(baseline: latency, minRatio: 1.25, targetARL: 1_000).design.steps(shift: 0)),
]
for (name, steps) in stepSets {
    let curve = RunLengthCurve(steps: steps, maxExactRunLength: comparisonCap, exactWork: comparisonWork)
    for target in [1e4, 1e6, 1e8, 1e10, 1e12] {
        // The threshold whose exact ARL first passes the target.
        var n = 1
        while CUSUMThreshold.exactAverageRunLength(steps: steps, thresholdUnits: n) < target { n += max(1, n / 16) }
        let exact = CUSUMThreshold.exactAverageRunLength(steps: steps, thresholdUnits: n)
        let tail = curve.averageRunLength(thresholdUnits: n)
        let error = (tail - exact) / exact
        worstError = max(worstError, abs(error))
        print(
            "| \(name) | \(curve.exactLimit.map(String.init) ?? "-") | \(n) | \(String(format: "%.4g", tail)) | \(String(format: "%.4g", exact)) | \(String(format: "%+.3f%%", 100 * error)) |"
        )
    }
}
print("\nLargest disagreement: \(String(format: "%.3f", 100 * worstError))% (goal: within 10%).\n")

// MARK: a scaled case simulated

print("### False alarms of a tail design, simulated\n")
print(
    "A detector designed through the tail (its exact region cut at an ARL of 100, so the threshold lies far past it), run in control until it alarms, again and again. The budget holds when the mean run length is at least the target (false alarms no more frequent than 1 / target).\n"
)
print("| detector | target ARL | threshold (units) | runs | simulated mean run length | 95% lower bound | chain ARL at that threshold |")
print("|---|---:|---:|---:|---:|---:|---:|")
var rng = SplitMix64(state: 20261205)
@MainActor func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
struct Scaled {
    var name: String
    var steps: [LatticeStep]
    var unit: Double
    var draw: @MainActor () -> Int
}
let bernoulli = try BernoulliCUSUM(baseline: p90, minDrop: 0.05, targetARL: 1_000, guard: .none).design
let scoreDesign = try ScoreCUSUM(baseline: scores, minMeanDrop: 0.1, targetARL: 1_000, estimationGuard: false).design
let cumulative = scores.probabilities.reduce(into: [Double]()) { $0.append(($0.last ?? 0) + $1) }
let scaled: [Scaled] = [
    Scaled(
        name: "pass rate p0 0.90", steps: bernoulli.steps(failRate: p90.failRate), unit: bernoulli.unit,
        draw: { uniform() < p90.failRate ? bernoulli.failUnits : bernoulli.passUnits }),
    Scaled(
        name: "scores", steps: scoreDesign.steps(probabilities: scores.probabilities), unit: scoreDesign.unit,
        draw: {
            let u = uniform(); return scoreDesign.scoreUnits[cumulative.firstIndex { u < $0 } ?? 4]
        }),
]
let target = quick ? 2_000.0 : 20_000.0
let runs = quick ? 200 : 1_000
for item in scaled {
    let curve = RunLengthCurve(steps: item.steps, maxExactRunLength: 100)
    let threshold = try CUSUMThreshold.thresholdUnits(curves: [(curve, 1)], targetARL: target)
    var lengths: [Double] = []
    for _ in 0..<runs {
        var cusum = LatticeCUSUM(unit: item.unit, thresholdUnits: threshold)
        var n = 0
        repeat { n += 1 } while !cusum.step(units: item.draw()).isAlarm
        lengths.append(Double(n))
    }
    let mean = lengths.reduce(0, +) / Double(runs)
    let sd = (lengths.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(runs - 1)).squareRoot()
    let exact = CUSUMThreshold.exactAverageRunLength(steps: item.steps, thresholdUnits: threshold)
    print(
        "| \(item.name) | \(Int(target)) | \(threshold) | \(runs) | \(String(format: "%.0f", mean)) | \(String(format: "%.0f", mean - 1.96 * sd / Double(runs).squareRoot())) | \(String(format: "%.0f", exact)) |"
    )
}
