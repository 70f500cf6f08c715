// The detection benchmark (issue 6): a simulation that drives the production detectors of
// EvaldCore (BernoulliCUSUM, ScoreCUSUM, RecoveryCUSUM, DriftSPRT, with their thresholds from
// CUSUMThreshold and baselines estimated by PassRateBaseline / ScoreBaseline) and prints a
// Markdown section for Benchmarks/RESULTS.md. Seeded (SplitMix64): the numbers reproduce.
//
// Usage: evald-detection-benchmark [scale]   (scale 1 = the recorded run; 0.1 for a quick look)
import EvaldCore
import EvaldTesting
import Foundation

let scale = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 1 : 1
func reps(_ n: Int) -> Int { max(20, Int(Double(n) * scale)) }

// Single-threaded simulation: the generator and the design cache are only touched from
// top-level code and the functions it calls, all on the main thread.
nonisolated(unsafe) var rng = SplitMix64(state: 20_261_130)
func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
func normal() -> Double {
    let u = max(uniform(), 1e-300), v = uniform()
    return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
}
func draw(_ probabilities: [Double]) -> Int {
    var u = uniform()
    for (i, p) in probabilities.enumerated() {
        if u < p { return i + 1 }
        u -= p
    }
    return probabilities.count
}
func mean(_ xs: [Int]) -> Double { Double(xs.reduce(0, +)) / Double(max(1, xs.count)) }
func p90(_ xs: [Int]) -> Int {
    let s = xs.sorted()
    return s.isEmpty ? 0 : s[min(s.count - 1, Int((0.9 * Double(s.count)).rounded(.up)) - 1)]
}
func f0(_ x: Double) -> String { x.isFinite ? String(format: "%.0f", x) : "inf" }
func f1(_ x: Double) -> String { String(format: "%.1f", x) }
func f3(_ x: Double) -> String { String(format: "%.3f", x) }

// The budget: one false alarm per 10,000 samples for one series sampled once a second,
// through the same mapping the daemon uses.
let targetARL = DetectionBudget.targetARL(falseAlarmEvery: 10_000, sampledPerSecond: 1, seriesCount: 1)
let minDrop = 0.05
let p0 = 0.90
let historySizes = [1_000, 5_000]
let started = Date()

// MARK: 6. Changes: prompt deploys and slices (ChangeWatch)

func changesSection() -> [String] {
    var lines: [String] = []
    // One check on a route answering every 10 s, 1,000 answers of the old version at 0.90, then
    // the new one: a deploy (all traffic) or a 10% slice. Delay in answers of the new version.
    let changeSettings = ChangeSettings(drift: DriftSettings(alpha: 0.01, minDrop: minDrop, minSamples: 100), lookback: 7 * 86400)
    func changeRun(newPass: Double, slice: Double?) -> (fired: Bool, delay: Int) {
        var watch = ChangeWatch(route: "r", dimension: .promptVersion)
        var t = 1_795_824_000.0, id: Int64 = 0
        func feed(_ version: String, _ pass: Double) -> [ChangeWatch.Event] {
            t += 10
            id += 1
            return watch.noteAnswer(version: version, at: Date(timeIntervalSince1970: t), evaluationID: id, settings: changeSettings)
                + watch.observe(version: version, metric: "m|check:ok", passed: uniform() < pass, evaluationID: id, settings: changeSettings)
        }
        for _ in 0..<1_000 { _ = feed("old", p0) }
        var newAnswers = 0
        for _ in 0..<(slice == nil ? 5_000 : 20_000) {
            let isNew = slice.map { uniform() < $0 } ?? true
            if isNew { newAnswers += 1 }
            let events = feed(isNew ? "new" : "old", isNew ? newPass : p0)
            for event in events {
                switch event {
                case .regression where slice == nil: return (true, newAnswers)
                case .variantWorse where slice != nil: return (true, newAnswers)
                default: break
                }
            }
        }
        return (false, newAnswers)
    }
    lines.append("### Changes: prompt deploys (PromptRegression) and 10% slices (VariantWorse), detection.drift_alpha = 0.01, one check at 0.90 before\n")
    lines.append("| new version's pass rate | drop | kind | changes | alerts | rate per change | mean / p90 samples of the new version to alert |")
    lines.append("|:--|---:|:--|---:|---:|---:|---:|")
    for (newPass, kind) in [
        (0.90, "deploy"), (0.85, "deploy"), (0.80, "deploy"), (0.70, "deploy"), (0.90, "slice"), (0.85, "slice"), (0.80, "slice"), (0.70, "slice"),
    ] {
        let changes = reps(newPass == 0.90 && kind == "deploy" ? 1_000 : 300)
        var alerts = 0, delays: [Int] = []
        for _ in 0..<changes {
            let run = changeRun(newPass: newPass, slice: kind == "slice" ? 0.1 : nil)
            if run.fired { alerts += 1; delays.append(run.delay) }
        }
        lines.append(
            "| \(newPass) | \(String(format: "%.2f", p0 - newPass)) | \(kind) | \(changes) | \(alerts) | \(String(format: "%.4f", Double(alerts) / Double(changes))) | "
                + (delays.isEmpty ? "-" : "\(f1(mean(delays))) / \(p90(delays))") + " |")
    }
    // The side-by-side interval's coverage: 1,000 A/B runs (0.90 vs 0.85, 70/30), looked at every
    // 10 samples for 2,000; a run is covered when every look covered the true difference.
    var coveredRuns = 0
    let coverageRuns = reps(1_000)
    for _ in 0..<coverageRuns {
        var a = ArmTally(), b = ArmTally(), ok = true
        for i in 1...2_000 {
            if uniform() < 0.7 { a.add(uniform() < 0.90 ? 1 : 0) } else { b.add(uniform() < 0.85 ? 1 : 0) }
            if i % 10 == 0, let d = VariantDifference.compare(incumbent: a, variant: b, alpha: 0.05, minDrop: minDrop, widestVariance: 0.25),
                !(d.low <= -0.05 && -0.05 <= d.high)
            {
                ok = false
            }
        }
        if ok { coveredRuns += 1 }
    }
    lines.append(
        "\nAnytime-valid 95% interval of the difference (0.85 - 0.90, 70/30 split, looked at every 10 samples for 2,000): covered at every look in \(coveredRuns) of \(coverageRuns) runs.\n"
    )
    return lines
}

// MARK: 7. Operational series from every call (issue 17)

/// One minute of calls fed to an `op:` series as the daemon feeds it: every call through a
/// `UsageFeedCell` (shuffled, latencies at their histogram bucket's middle), or the 1% sample
/// one call at a time.
func feedMinute(
    _ monitor: inout SeriesMonitor, _ calls: [(ok: Bool, latency: Double)], minute: Int, everyCall: Bool, settings: DetectionSettings
) -> [SeriesEvent] {
    let t0 = 1_795_824_000.0
    let passRate = monitor.key.measure == .passRate
    var events: [SeriesEvent] = []
    guard everyCall else {
        for (index, c) in calls.enumerated() where uniform() < 0.01 {
            let at = Date(timeIntervalSince1970: t0 + Double(minute * 60 + index * 60 / calls.count))
            events += monitor.observe(passRate ? .passed(c.ok) : .value(c.latency), at: at, evaluationID: 1, settings: settings)
        }
        return events
    }
    var latencies = LogHistogram()
    for c in calls { latencies.record(c.latency) }
    let cell = UsageFeedCell(
        minute: Int64(t0 / 60) + Int64(minute), route: "r", model: "m", calls: Int64(calls.count), errors: Int64(calls.count { !$0.ok }),
        latencyMs: latencies, costNanoUSD: LogHistogram())
    if passRate {
        for ok in cell.outcomes() { events += monitor.observe(.passed(ok), at: cell.at, evaluationID: 0, settings: settings) }
    } else {
        for value in cell.latencies() { events += monitor.observe(.value(value), at: cell.at, evaluationID: 0, settings: settings) }
    }
    return events
}

/// Detection delay of the `op:` series fed from the 1% sample (each sampled call observed on
/// its own) against fed from every call (a minute of calls at a time, through `UsageFeedCell`,
/// shuffled and quantised exactly as the daemon feeds them), with the daemon's own settings:
/// `false_alarm_every` 30d shared by 30 series, `min_drop` 0.05, `baseline_min_samples` 1000.
/// One (route, model) at `perSecond` calls; three healthy days, then the change.
func fullStreamSection() -> [String] {
    var lines: [String] = [
        "\n### Operational series: the 1% sample against every call\n",
        "One (route, model) at 0.5 calls/s (43,200 a day), 30 series sharing `false_alarm_every: 30d`, `min_drop` 0.05,"
            + " `baseline_min_samples` 1000, the production `SeriesMonitor`. Three healthy days (errors 2%, latency log-normal,"
            + " median 800 ms, sigma 0.5), then the change. Delay in minutes from the change to the alarm (mean / p90 over the runs);"
            + " false alarms counted over the healthy days of every run. The full stream is fed as the daemon feeds it: a minute"
            + " of calls per `UsageFeedCell`, latencies quantised by the usage histogram, in a shuffled order.\n",
        "| series | change | runs | sample 1%: fired / delay min (mean / p90) | every call: fired / delay min (mean / p90) | false alarms (sample / every call) |",
        "|---|---|---|---|---|---|",
    ]
    let settings = DetectionSettings(
        minDrop: 0.05, falseAlarmEvery: 30 * 86400, baselineMinSamples: 1000, resolveSamples: 100, seriesCount: 30)
    let perMinute = 30
    let healthyMinutes = 3 * 1440
    let horizon = 1440  // look for the alarm for a day after the change
    enum Kind { case errors(before: Double, after: Double), latency(ratio: Double) }
    func call(_ kind: Kind, changed: Bool) -> (ok: Bool, latency: Double) {
        switch kind {
        case .errors(let before, let after): return (uniform() >= (changed ? after : before), 800)
        case .latency(let ratio): return (true, 800 * exp(0.5 * normal()) * (changed ? ratio : 1))
        }
    }
    func run(_ kind: Kind, everyCall: Bool) -> (delay: Int?, falseAlarms: Int) {
        let metric: String
        let measure: SeriesMeasure
        switch kind {
        case .errors: (metric, measure) = ("op:error_rate", .passRate)
        case .latency: (metric, measure) = ("op:latency_ms", .logValue)
        }
        var monitor = SeriesMonitor(key: SeriesKey(metric: metric, measure: measure, route: "r", model: "m"))
        var falseAlarms = 0
        for minute in 0..<(healthyMinutes + horizon) {
            let changed = minute >= healthyMinutes
            let calls = (0..<perMinute).map { _ in call(kind, changed: changed) }
            let events = feedMinute(&monitor, calls, minute: minute, everyCall: everyCall, settings: settings)
            for event in events {
                guard case .regression = event else { continue }
                if !changed {
                    falseAlarms += 1
                } else {
                    return (minute - healthyMinutes + 1, falseAlarms)
                }
            }
        }
        return (nil, falseAlarms)
    }
    let cases: [(String, String, Kind)] = [
        ("op:error_rate", "errors 2% -> 7%", .errors(before: 0.02, after: 0.07)),
        ("op:error_rate", "errors 2% -> 12%", .errors(before: 0.02, after: 0.12)),
        ("op:latency_ms", "latency x1.25", .latency(ratio: 1.25)),
        ("op:latency_ms", "latency x2", .latency(ratio: 2)),
    ]
    let runs = max(3, Int(10 * scale))
    for (series, change, kind) in cases {
        var results: [String] = []
        var falseAlarms: [Int] = []
        for everyCall in [false, true] {
            var delays: [Int] = []
            var alarms = 0
            for _ in 0..<runs {
                let result = run(kind, everyCall: everyCall)
                alarms += result.falseAlarms
                if let delay = result.delay { delays.append(delay) }
            }
            falseAlarms.append(alarms)
            results.append("\(delays.count)/\(runs) / " + (delays.isEmpty ? "none in a day" : "\(f0(mean(delays))) / \(p90(delays))"))
        }
        lines.append("| \(series) | \(change) | \(runs) | \(results[0]) | \(results[1]) | \(falseAlarms[0]) / \(falseAlarms[1]) |")
    }
    // The budget kept: with `false_alarm_every: 1d` for one series, the time from arming to
    // the first false alarm should be about a day whichever way the series is fed (feeding a
    // minute at a time, if it biased the CUSUM, would shorten it).
    let tight = DetectionSettings(minDrop: 0.05, falseAlarmEvery: 86400, baselineMinSamples: 1000, resolveSamples: 100, seriesCount: 1)
    func inControlDays(_ measure: SeriesMeasure, everyCall: Bool) -> Double? {
        var monitor = SeriesMonitor(key: SeriesKey(metric: measure == .passRate ? "op:error_rate" : "op:latency_ms", measure: measure, route: "r", model: "m"))
        var armedAt: Int?
        for minute in 0..<(60 * 1440) {
            let calls = (0..<perMinute).map { _ in (ok: uniform() >= 0.02, latency: 800 * exp(0.5 * normal())) }
            let events = feedMinute(&monitor, calls, minute: minute, everyCall: everyCall, settings: tight)
            if armedAt == nil, monitor.detector != nil { armedAt = minute }
            if let armedAt, events.contains(where: { if case .regression = $0 { true } else { false } }) {
                return Double(minute - armedAt) / 1440
            }
        }
        return nil
    }
    lines.append(
        "\nFalse alarms kept to the budget: `false_alarm_every: 1d` for a single series, time from arming to the first false alarm"
            + " on healthy traffic (target about 1 day; runs that saw none in 60 days count as 60).\n")
    lines.append("| series | runs | sample 1%: mean days (min / max) | every call: mean days (min / max) |")
    lines.append("|---|---|---|---|")
    let controlRuns = max(4, Int(40 * scale))
    for measure in [SeriesMeasure.passRate, .logValue] {
        var cells: [String] = []
        for everyCall in [false, true] {
            let days = (0..<controlRuns).map { _ in inControlDays(measure, everyCall: everyCall) ?? 60 }
            cells.append(
                "\(String(format: "%.2f", days.reduce(0, +) / Double(days.count))) (\(String(format: "%.2f", days.min()!)) / \(String(format: "%.2f", days.max()!)))"
            )
        }
        lines.append("| \(measure == .passRate ? "op:error_rate" : "op:latency_ms") | \(controlRuns) | \(cells[0]) | \(cells[1]) |")
    }
    return lines
}

// `evald-detection-benchmark SCALE full-stream`: only the section above.
if CommandLine.arguments.count > 2, CommandLine.arguments[2] == "full-stream" {
    print(fullStreamSection().joined(separator: "\n"))
    exit(0)
}

// `evald-detection-benchmark SCALE changes`: only the changes section.
if CommandLine.arguments.count > 2, CommandLine.arguments[2] == "changes" {
    print(changesSection().joined(separator: "\n"))
    exit(0)
}

func estimatedBaseline(passRate: Double, samples: Int) -> PassRateBaseline {
    var b = PassRateBaseline(samples: 0, passes: 0)
    for _ in 0..<samples { b.record(passed: uniform() < passRate) }
    return b
}

/// Designs by (history, passes, guard): the design depends on the baseline only through its
/// counts, so equal estimates share one Brook-Evans computation.
nonisolated(unsafe) var designCache: [String: BernoulliCUSUM] = [:]
func detector(_ baseline: PassRateBaseline, _ margin: BaselineGuard) -> BernoulliCUSUM {
    let key = "\(baseline.samples)/\(baseline.passes)/\(margin.estimationError)/\(margin.wanderStandardDeviation)"
    if let cached = designCache[key] { return cached }
    let made = try! BernoulliCUSUM(baseline: baseline, minDrop: minDrop, targetARL: targetARL, guard: margin)
    designCache[key] = made
    return made
}

/// Samples per false alarm, as a deployment sees it: each episode estimates a baseline,
/// designs the detector once and runs it for `length` samples, resetting after each alarm (a
/// series keeps its design for a long time). Total samples / total alarms over equal-length
/// episodes is then 1 / E[1 / ARL], the average false-alarm rate over baseline estimates.
/// (Stopping each episode at its first alarm would instead average the ARLs themselves, which
/// the lucky, high-estimate baselines dominate, and would flatter an unguarded design.)
/// `passRate(i, baselineRate)` gives the true pass rate at sample i of the episode.
func inControlARL(
    episodes: Int, length: Int, history: Int, guard margin: BaselineGuard,
    passRate: (Int, Double) -> Double
) -> Double {
    var samples = 0, alarms = 0
    for _ in 0..<episodes {
        let baseline = estimatedBaseline(passRate: p0, samples: history)
        var cusum = detector(baseline, margin)
        for i in 0..<length where cusum.update(failed: uniform() >= passRate(i, baseline.passRate)).isAlarm {
            alarms += 1
            cusum.reset()
        }
        samples += length
    }
    return alarms == 0 ? .infinity : Double(samples) / Double(alarms)
}

/// Worst-case (zero-start) delays: a fresh detector on a freshly estimated baseline meets the
/// new rate from its first sample.
func cusumDelays(to passRate: Double, runs: Int, history: Int, guard margin: BaselineGuard) -> [Int] {
    (0..<runs).map { _ in
        var cusum = detector(estimatedBaseline(passRate: p0, samples: history), margin)
        var n = 0
        repeat { n += 1 } while !cusum.update(failed: uniform() >= passRate).isAlarm && n < 100_000
        return n
    }
}

// MARK: Fixed-window rule, calibrated by simulation to the same false-alarm rate.

/// "At least m fails among the last W samples" (a pass rate below 1 - m/W), alarming then
/// starting over with an empty window. Returns the smallest m whose simulated false-alarm rate
/// at p0 is at most 1/targetARL, and that rate.
func calibrateWindow(
    width: Int, length: Int, outcome: () -> Double, alarmsAbove: (Double) -> Bool = { _ in true },
    candidates: [Double]
) -> (threshold: Double, arl: Double) {
    let stream = (0..<length).map { _ in outcome() }
    for c in candidates {
        var alarms = 0, sum = 0.0, filled = 0
        var window = [Double](repeating: 0, count: width)
        for (i, x) in stream.enumerated() {
            let slot = i % width
            if filled == width { sum -= window[slot] } else { filled += 1 }
            window[slot] = x
            sum += x
            if filled == width && sum >= c - 1e-9 {
                alarms += 1
                filled = 0; sum = 0
                window = [Double](repeating: 0, count: width)
            }
        }
        let arl = alarms == 0 ? Double.infinity : Double(length) / Double(alarms)
        if arl >= targetARL { return (c, arl) }
    }
    return (candidates.last!, .nan)
}

/// Steady-state window delays (favourable to the window: it starts full of in-control data).
func windowDelays(width: Int, threshold: Double, runs: Int, inControl: () -> Double, changed: () -> Double) -> [Int] {
    (0..<runs).map { _ in
        var window = (0..<width).map { _ in inControl() }
        var sum = window.reduce(0, +)
        var n = 0
        while n < 100_000 {
            let x = changed()
            sum += x - window[n % width]
            window[n % width] = x
            n += 1
            if sum >= threshold - 1e-9 { break }
        }
        return n
    }
}

var out: [String] = []
let stamp = ISO8601DateFormatter().string(from: Date())
out.append("## Detection, \(stamp)\n")
out.append(
    "Simulation driving the production detectors (`Benchmarks/detection`, seeded; scale \(scale)). "
        + "Budget: one false alarm per \(f0(targetARL)) samples (`DetectionBudget.targetARL(falseAlarmEvery: 10000 s, sampledPerSecond: 1, seriesCount: 1)`). "
        + "p0 = \(p0), min_drop = \(minDrop). Baselines are estimated per run from the stated number of history samples by `PassRateBaseline` / `ScoreBaseline`. "
        + "CUSUM delays are zero-start (the worst case, as in the issue's optimum); window delays start from a full in-control window (the window's best case). "
        + "In-control ARL = samples / false alarms over many episodes of fixed length, each with a freshly estimated baseline designed once (reset after each alarm): 1 / E[1 / ARL], the false-alarm rate averaged over baseline estimates.\n"
)

// MARK: 1. Pass rates

let standardGuard = BaselineGuard.standard(minDrop: minDrop)
let drops = [0.85, 0.80, 0.70]
let goals = [0.85: 370, 0.80: 133, 0.70: 48]
out.append("### Pass rate (p0 = 0.90), BernoulliCUSUM vs a 1,000-sample window\n")
out.append("| detector | history | guard | threshold h | in-control ARL | 0.85 mean / p90 | 0.80 mean / p90 | 0.70 mean / p90 |")
out.append("|:--|---:|:--|---:|---:|---:|---:|---:|")
let known = PassRateBaseline(samples: 10_000_000, passes: 9_000_000)
let exact = try! BernoulliCUSUM(baseline: known, minDrop: minDrop, targetARL: targetARL, guard: .none)
out.append(
    "| CUSUM, Brook-Evans (exact baseline) | known | none | \(f3(exact.threshold)) | \(f0(exact.averageRunLength(failRate: 0.1))) | "
        + drops.map { "\(f0(exact.averageRunLength(failRate: 1 - $0))) / -" }.joined(separator: " | ") + " |")
for history in historySizes {
    for (name, margin) in [("none", BaselineGuard.none), ("standard", standardGuard)] {
        let sampleDesign = try! BernoulliCUSUM(
            baseline: PassRateBaseline(samples: history, passes: history * 9 / 10),
            minDrop: minDrop, targetARL: targetARL, guard: margin)
        let arl = inControlARL(episodes: reps(400), length: 50_000, history: history, guard: margin) { _, _ in p0 }
        let cells = drops.map { drop -> String in
            let d = cusumDelays(to: drop, runs: reps(1_000), history: history, guard: margin)
            return "\(f1(mean(d))) / \(p90(d))"
        }
        out.append("| CUSUM (simulated) | \(history) | \(name) | \(f3(sampleDesign.threshold)) | \(f0(arl)) | " + cells.joined(separator: " | ") + " |")
    }
}
let windowWidth = 1_000
let window = calibrateWindow(
    width: windowWidth, length: Int(3_000_000 * max(scale, 0.2)),
    outcome: { uniform() >= p0 ? 1 : 0 }, candidates: (100...200).map(Double.init))
let windowCells = drops.map { drop -> String in
    let d = windowDelays(
        width: windowWidth, threshold: window.threshold, runs: reps(1_000),
        inControl: { uniform() >= p0 ? 1 : 0 }, changed: { uniform() >= drop ? 1 : 0 })
    return "\(f1(mean(d))) / \(p90(d))"
}
out.append(
    "| window: >= \(Int(window.threshold)) fails in last \(windowWidth) (calibrated by simulation) | known | - | - | \(f0(window.arl)) | "
        + windowCells.joined(separator: " | ") + " |")
out.append("\nGoals at one false alarm per 10,000 samples (mean delay): 0.85 <= \(goals[0.85]!), 0.80 <= \(goals[0.80]!), 0.70 <= \(goals[0.70]!).\n")

// MARK: 2. Robustness: a baseline a little off, hourly wander

out.append("### False alarms when the baseline is off (pass rate, history 5,000)\n")
out.append("| true pass rate | guard | samples per false alarm | vs budget |")
out.append("|:--|:--|---:|---:|")
let wanderGuard = BaselineGuard(estimationError: true, wanderStandardDeviation: 0.01)
let scenarios: [(String, BaselineGuard, String)] = [
    ("none", .none, "off"), ("standard", standardGuard, "off"), ("wander sd 0.01", wanderGuard, "off"),
    ("none", .none, "wander"), ("standard", standardGuard, "wander"), ("wander sd 0.01", wanderGuard, "wander"),
]
for (name, margin, kind) in scenarios {
    var hourRates: [Int: Double] = [:]
    let arl = inControlARL(episodes: reps(300), length: 36_000, history: 5_000, guard: margin) { i, estimate in
        if kind == "off" { return estimate - 0.005 }
        // Hourly wander at 1 sample a second: each block of 3,600 samples has its own rate.
        let hour = i / 3_600
        if i % 3_600 == 0 || hourRates[hour] == nil { hourRates = [hour: min(1, p0 + 0.01 * normal())] }
        return hourRates[hour]!
    }
    let label = kind == "off" ? "0.005 below the estimate" : "0.90, wandering hourly (sd 0.01)"
    out.append("| \(label) | \(name) | \(f0(arl)) | \(f3(targetARL / arl))x |")
}
let wanderDesign = try! BernoulliCUSUM(
    baseline: PassRateBaseline(samples: 5_000, passes: 4_500), minDrop: minDrop,
    targetARL: targetARL, guard: wanderGuard)
out.append(
    "\nCost of the wander guard (sd 0.01) in delay, Brook-Evans at history 5,000: "
        + drops.map { "\($0): \(f0(wanderDesign.averageRunLength(failRate: 1 - $0)))" }.joined(separator: ", ") + ".\n")

// MARK: 3. Recovery

let recovery = try! RecoveryCUSUM(baseline: known, minDrop: minDrop, resolveSamples: 100)
var resolveTimes: [Int] = []
for _ in 0..<reps(1_000) {
    var r = recovery
    var n = 0
    repeat { n += 1 } while !r.update(failed: uniform() >= p0) && n < 100_000
    resolveTimes.append(n)
}
var falseResolves = 0, stillDownSamples = 0
for _ in 0..<reps(300) {
    var r = recovery
    var n = 0
    while n < 200_000 {
        n += 1
        if r.update(failed: uniform() >= p0 - minDrop) { falseResolves += 1; break }
    }
    stillDownSamples += n
}
out.append("### Recovery (hysteresis), resolve_samples = 100\n")
out.append("| case | Brook-Evans ARL | simulated |")
out.append("|:--|---:|---:|")
out.append(
    "| full recovery to 0.90: samples to resolve (mean / p90) | \(f0(recovery.averageRunLength(failRate: 0.1))) | \(f1(mean(resolveTimes))) / \(p90(resolveTimes)) |"
)
out.append(
    "| still 0.05 below (0.85): samples per false resolve | \(f0(recovery.averageRunLength(failRate: 0.15))) | "
        + (falseResolves == 0 ? "none in \(stillDownSamples)" : f0(Double(stillDownSamples) / Double(falseResolves))) + " |\n")

// MARK: 4. Scores

let scoreP = [0.03, 0.04, 0.10, 0.33, 0.50]
func droppedScores(_ d: Double) -> [Double] {
    // Move d/2 of probability from 5 to 3: the mean falls by d.
    var p = scoreP
    p[4] -= d / 2
    p[2] += d / 2
    return p
}
func scoreBaseline(_ n: Int) -> ScoreBaseline {
    var b = ScoreBaseline(counts: [0, 0, 0, 0, 0])
    for _ in 0..<n { b.record(score: draw(scoreP)) }
    return b
}
let scoreDrops = [0.1, 0.2, 0.4]
let scoreHistory = 5_000
out.append("### Judge scores 1-5 (\(scoreP.map { String($0) }.joined(separator: ", "))), ScoreCUSUM (min mean drop 0.1) vs a 500-sample window\n")
out.append("| detector | history | in-control ARL | -0.1 mean / p90 | -0.2 mean / p90 | -0.4 mean / p90 |")
out.append("|:--|---:|---:|---:|---:|---:|")
let exactScores = try! ScoreCUSUM(
    baseline: ScoreBaseline(counts: scoreP.map { Int($0 * 1_000_000) }), minMeanDrop: 0.1,
    targetARL: targetARL, estimationGuard: false)
out.append(
    "| ScoreCUSUM, Brook-Evans (exact baseline) | known | \(f0(exactScores.averageRunLength(probabilities: scoreP))) | "
        + scoreDrops.map { "\(f0(exactScores.averageRunLength(probabilities: droppedScores($0)))) / -" }.joined(separator: " | ") + " |")
// A pool of detectors, each designed on its own freshly estimated baseline (a design on a
// 5-value histogram costs ~0.1 s, so runs draw from the pool instead of each making one).
let scoreDetectors = (0..<max(10, Int(60 * min(1, scale * 4)))).map { _ in
    try! ScoreCUSUM(baseline: scoreBaseline(scoreHistory), minMeanDrop: 0.1, targetARL: targetARL)
}
// Each pooled design (its own estimated baseline) runs 50,000 in-control scores, reset after
// each alarm, as for pass rates.
var scoreSamples = 0, scoreAlarms = 0
for (index, design) in scoreDetectors.enumerated() {
    var c = design
    let length = max(10_000, Int(50_000 * min(1, scale * 4) * 3 / 2)) * (index < scoreDetectors.count ? 1 : 0)
    for _ in 0..<length where c.update(score: draw(scoreP)).isAlarm {
        scoreAlarms += 1
        c.reset()
    }
    scoreSamples += length
}
let scoreCells = scoreDrops.map { d -> String in
    let p = droppedScores(d)
    let delays = (0..<reps(1_000)).map { _ -> Int in
        var c = scoreDetectors[Int(rng.next() % UInt64(scoreDetectors.count))]
        var n = 0
        repeat { n += 1 } while !c.update(score: draw(p)).isAlarm && n < 100_000
        return n
    }
    return "\(f1(mean(delays))) / \(p90(delays))"
}
out.append(
    "| ScoreCUSUM (simulated) | \(scoreHistory) | \(scoreAlarms == 0 ? "inf" : f0(Double(scoreSamples) / Double(scoreAlarms))) | "
        + scoreCells.joined(separator: " | ") + " |")
// Window on the mean score: alarm when the sum of (5 - score) over the last 500 reaches c.
let scoreWindow = calibrateWindow(
    width: 500, length: Int(3_000_000 * max(scale, 0.2)), outcome: { Double(5 - draw(scoreP)) },
    candidates: stride(from: 385.0, through: 600, by: 1).map { $0 })
let scoreWindowCells = scoreDrops.map { d -> String in
    let p = droppedScores(d)
    let delays = windowDelays(
        width: 500, threshold: scoreWindow.threshold, runs: reps(1_000),
        inControl: { Double(5 - draw(scoreP)) }, changed: { Double(5 - draw(p)) })
    return "\(f1(mean(delays))) / \(p90(delays))"
}
out.append(
    "| window: mean of last 500 <= \(String(format: "%.3f", 5 - scoreWindow.threshold / 500)) (calibrated) | known | \(f0(scoreWindow.arl)) | "
        + scoreWindowCells.joined(separator: " | ") + " |\n")

// MARK: 5. Drift

let alpha = 0.01
out.append("### Provider drift: DriftSPRT (alpha = \(alpha), old baseline 1,000 samples, watched after every sample for up to 5,000)\n")
out.append("| new version's pass rate | switches | drift alerts | rate per switch | mean / p90 samples to alert | \"no drift\" said: share / mean samples |")
out.append("|:--|---:|---:|---:|---:|---:|")
for newPass in [0.90, 0.85, 0.80, 0.70] {
    let switches = reps(newPass == 0.90 ? 3_000 : 500)
    var alerts = 0, delays: [Int] = [], clears: [Int] = []
    for _ in 0..<switches {
        var sprt = DriftSPRT(
            oldBaseline: estimatedBaseline(passRate: p0, samples: 1_000), alpha: alpha, minDrop: minDrop,
            minSamples: 100)!
        var cleared = false
        for n in 1...5_000 {
            let verdict = sprt.update(failed: uniform() >= newPass)
            if verdict == .noDrift && !cleared { cleared = true; clears.append(n) }
            if verdict == .drift { alerts += 1; delays.append(n); break }
        }
    }
    out.append(
        "| \(newPass) | \(switches) | \(alerts) | \(String(format: "%.4f", Double(alerts) / Double(switches))) | "
            + (delays.isEmpty ? "-" : "\(f1(mean(delays))) / \(p90(delays))") + " | "
            + (clears.isEmpty ? "0" : "\(String(format: "%.4f", Double(clears.count) / Double(switches))) / \(f1(mean(clears)))") + " |")
}

out.append(contentsOf: changesSection())
out.append(contentsOf: fullStreamSection())
out.append("\nRun time \(f1(Date().timeIntervalSince(started))) s.\n")
print(out.joined(separator: "\n"))
