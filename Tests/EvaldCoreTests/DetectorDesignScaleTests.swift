import EvaldCore
import EvaldTesting
import Foundation
import Testing

/// Detector design at any false-alarm budget: thresholds for targets up to 1e12 samples, found
/// through the chain's exponential tail (`RunLengthCurve`) rather than ever larger chains. The
/// speed is measured in Benchmarks/ (run_detection_benchmark.sh, `design` mode); these tests
/// hold the behaviour: every kind designs at every target, thresholds grow with the target, the
/// threshold found is the smallest that meets it, and the tail agrees with the exact chain.
@Suite struct DetectorDesignScaleTests {
    static let targets: [Double] = [1e3, 1e6, 1e9, 1e12]

    /// Distributions typical of real series, with their lattices as the designs build them.
    static let passRates: [PassRateBaseline] = [
        PassRateBaseline(samples: 5_000, passes: 4_500),  // p0 = 0.90
        PassRateBaseline(samples: 20_000, passes: 19_990),  // near-perfect: 1 fail in 2,000
        PassRateBaseline(samples: 300, passes: 200),  // small, poor baseline
    ]
    static let scores: [ScoreBaseline] = [
        ScoreBaseline(counts: [30, 40, 100, 330, 500]),
        ScoreBaseline(counts: [1, 0, 2, 40, 9_000]),  // a judge that says 5 nearly always
    ]
    static let logValues: [LogValueBaseline] = [
        LogValueBaseline(samples: 5_000, mean: log(800), standardDeviation: 0.4),
        LogValueBaseline(samples: 5_000, mean: log(0.002), standardDeviation: 0.01),  // steady cost
    ]

    @Test func everyKindDesignsAtEveryTargetAndThresholdsGrowWithIt() async throws {
        try await offPool {
            for baseline in Self.passRates {
                let thresholds = try Self.targets.map {
                    try BernoulliCUSUM(baseline: baseline, minDrop: 0.05, targetARL: $0, guard: .standard(minDrop: 0.05)).threshold
                }
                #expect(thresholds == thresholds.sorted() && thresholds.first! < thresholds.last!, "\(baseline): \(thresholds)")
                let recoveries = try Self.targets.map {
                    try RecoveryCUSUM(baseline: baseline, minDrop: 0.05, resolveSamples: 100, falseResolveEvery: $0).design.threshold
                }
                #expect(recoveries == recoveries.sorted() && recoveries.first! < recoveries.last!, "\(baseline): \(recoveries)")
            }
            for baseline in Self.scores {
                let thresholds = try Self.targets.map { try ScoreCUSUM(baseline: baseline, minMeanDrop: 0.1, targetARL: $0).threshold }
                #expect(thresholds == thresholds.sorted() && thresholds.first! < thresholds.last!, "\(baseline): \(thresholds)")
                let recoveries = try Self.targets.map {
                    try ScoreRecovery(baseline: baseline, minMeanDrop: 0.1, resolveSamples: 100, falseResolveEvery: $0).design.mirrored.threshold
                }
                #expect(recoveries == recoveries.sorted() && recoveries.first! < recoveries.last!, "\(baseline): \(recoveries)")
            }
            for baseline in Self.logValues {
                let thresholds = try Self.targets.map { try LogValueCUSUM(baseline: baseline, minRatio: 1.25, targetARL: $0).threshold }
                #expect(thresholds == thresholds.sorted() && thresholds.first! < thresholds.last!, "\(baseline): \(thresholds)")
                let recoveries = try Self.targets.map {
                    try LogValueRecovery(baseline: baseline, minRatio: 1.25, resolveSamples: 100, falseResolveEvery: $0).design.mirrored.threshold
                }
                #expect(recoveries == recoveries.sorted() && recoveries.first! < recoveries.last!, "\(baseline): \(recoveries)")
            }
            // Floors are a window rule, not a chain: their size is bounded at any floor.
            for floor in [0.5, 0.8, 0.99, 0.9999, 1.0] {
                let window = SeriesMonitor.floorWindow(minimum: floor, resolveSamples: 100)
                #expect(window >= 100 && window <= 2_000)
            }
        }
    }

    /// The guard against an uncertain baseline is a margin, not a runaway: even a small
    /// baseline's guarded threshold stays within a small factor of the bare one at any target.
    @Test func guardedThresholdsStayNearTheBareOnesAtAnyTarget() async throws {
        try await offPool {
            for target in Self.targets {
                for baseline in Self.passRates {
                    let guarded = try BernoulliCUSUM(baseline: baseline, minDrop: 0.05, targetARL: target, guard: .standard(minDrop: 0.05))
                    let bare = try BernoulliCUSUM(baseline: baseline, minDrop: 0.05, targetARL: target, guard: .none)
                    #expect(
                        guarded.threshold >= bare.threshold && guarded.threshold < 3 * bare.threshold + 1,
                        "p0 \(baseline.passRate) n \(baseline.samples) at \(target): \(guarded.threshold) vs \(bare.threshold)")
                }
                for baseline in Self.scores {
                    let guarded = try ScoreCUSUM(baseline: baseline, minMeanDrop: 0.1, targetARL: target)
                    let bare = try ScoreCUSUM(baseline: baseline, minMeanDrop: 0.1, targetARL: target, estimationGuard: false)
                    #expect(
                        guarded.threshold >= bare.threshold && guarded.threshold < 3 * bare.threshold + 1,
                        "scores \(baseline.counts) at \(target): \(guarded.threshold) vs \(bare.threshold)")
                }
            }
        }
    }

    @Test func theThresholdFoundIsTheSmallestThatMeetsTheTarget() async throws {
        try await offPool {
            for baseline in Self.passRates {
                for target in Self.targets {
                    let cusum = try BernoulliCUSUM(baseline: baseline, minDrop: 0.05, targetARL: target, guard: .none)
                    let steps = cusum.design.steps(failRate: baseline.failRate)
                    let curve = RunLengthCurve(steps: steps)
                    #expect(curve.averageRunLength(thresholdUnits: cusum.design.thresholdUnits) >= target)
                    if cusum.design.thresholdUnits > 1 {
                        #expect(curve.averageRunLength(thresholdUnits: cusum.design.thresholdUnits - 1) < target)
                    }
                }
            }
            for baseline in Self.logValues {
                for target in Self.targets {
                    let cusum = try LogValueCUSUM(baseline: baseline, minRatio: 1.25, targetARL: target)
                    let curve = RunLengthCurve(steps: cusum.design.steps(shift: 0))
                    #expect(curve.averageRunLength(thresholdUnits: cusum.design.thresholdUnits) >= target)
                    if cusum.design.thresholdUnits > 1 {
                        #expect(curve.averageRunLength(thresholdUnits: cusum.design.thresholdUnits - 1) < target)
                    }
                }
            }
        }
    }

    /// Where the exact chain is feasible (up to an ARL of 1e12), the curves the designs use
    /// agree with it within 10%, and where they use the tail it errs only on the safe side
    /// (a run length underestimated gives a threshold a little high, never more false alarms).
    @Test func theTailAgreesWithTheExactChainWhereTheChainIsFeasible() async throws {
        try await offPool {
            var pastTheRegion = 0
            for (name, steps) in try Self.stepSets() {
                let curve = RunLengthCurve(steps: steps)
                var n = 1
                while true {
                    let exact = CUSUMThreshold.exactAverageRunLength(steps: steps, thresholdUnits: n)
                    if exact > 1e12 { break }
                    let value = curve.averageRunLength(thresholdUnits: n)
                    #expect(abs(value - exact) / exact < 0.1, "\(name) at \(n) units: curve \(value), chain \(exact)")
                    #expect(value <= exact * (1 + 1e-6), "\(name) at \(n) units: curve \(value) above the chain's \(exact)")
                    if let limit = curve.exactLimit, n > limit { pastTheRegion += 1 }
                    n += max(1, n / 4)
                }
            }
            #expect(pastTheRegion >= 3, "the tail was compared \(pastTheRegion) times")
        }
    }

    /// Within the exact region the curve is the chain itself.
    @Test func theExactRegionIsTheChain() async throws {
        try await offPool {
            for (name, steps) in try Self.stepSets() {
                let curve = RunLengthCurve(steps: steps)
                for n in [1, 7, 50, 333] {
                    let exact = CUSUMThreshold.exactAverageRunLength(steps: steps, thresholdUnits: n)
                    guard exact < 1e9 else { continue }
                    let value = curve.averageRunLength(thresholdUnits: n)
                    #expect(abs(value - exact) / exact < 1e-9, "\(name) at \(n): \(value) vs \(exact)")
                }
            }
        }
    }

    static func stepSets() throws -> [(String, [LatticeStep])] {
        var sets: [(String, [LatticeStep])] = []
        for baseline in passRates {
            let design = try BernoulliCUSUM(baseline: baseline, minDrop: 0.05, targetARL: 1_000, guard: .none).design
            sets.append(("pass rate \(baseline.failRate)", design.steps(failRate: baseline.failRate)))
            let recovery = try RecoveryCUSUM(baseline: baseline, minDrop: 0.05, resolveSamples: 100).design
            sets.append(("recovery \(baseline.failRate)", recovery.steps(failRate: recovery.stillDownFailRate)))
        }
        for baseline in scores {
            let design = try ScoreCUSUM(baseline: baseline, minMeanDrop: 0.1, targetARL: 1_000, estimationGuard: false).design
            sets.append(("score \(baseline.mean)", design.steps(probabilities: baseline.probabilities)))
        }
        for baseline in logValues {
            let design = try LogValueCUSUM(baseline: baseline, minRatio: 1.25, targetARL: 1_000).design
            sets.append(("log value \(baseline.standardDeviation)", design.steps(shift: 0)))
        }
        return sets
    }

    /// A series whose design cannot succeed (a judge that has only ever said 5: its CUSUM can
    /// never rise) is not redesigned on every sample: that made each sample a design.
    @Test func aFailedDesignWaitsForTheBaselineToDouble() throws {
        var monitor = SeriesMonitor(key: SeriesKey(metric: "judge:j", measure: .meanScore, route: "r", model: "m"))
        let settings = DetectionSettings(
            minDrop: 0.05, falseAlarmEvery: 365 * 86_400, baselineMinSamples: 300,
            resolveSamples: 100, seriesCount: 10)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for i in 0..<5_000 {
            _ = monitor.observe(.score(5), at: start.addingTimeInterval(Double(i)), evaluationID: Int64(i), settings: settings)
        }
        // 300, 600, 1,200, 2,400, 4,800: one attempt per doubling.
        #expect((monitor.designs ?? 0) <= 6)
        #expect(monitor.detector == nil)
    }
}
