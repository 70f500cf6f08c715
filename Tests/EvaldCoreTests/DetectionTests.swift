import EvaldCore
import EvaldTesting
import Foundation
import Testing

@Suite struct DetectionTests {
    let baseline = PassRateBaseline(samples: 10_000, passes: 9_000)

    @Test func brookEvansMatchesMonteCarloForBernoulli() throws {
        // A low target so a Monte Carlo of 1,500 runs is cheap; the standard error of the
        // mean of a near-geometric run length is then about 2.6%.
        var cusum = try BernoulliCUSUM(baseline: baseline, minDrop: 0.05, targetARL: 300, guard: .none)
        let predicted = cusum.averageRunLength(failRate: 0.1)
        #expect(predicted >= 300 && predicted < 360)
        var rng = SplitMix64(state: 11)
        var total = 0
        for _ in 0..<1_500 {
            cusum.reset()
            var n = 0
            repeat { n += 1 } while !cusum.update(failed: uniform(&rng) < 0.1).isAlarm
            total += n
        }
        let simulated = Double(total) / 1_500
        #expect(abs(simulated - predicted) / predicted < 0.1, "simulated \(simulated), Brook-Evans \(predicted)")
    }

    @Test func thresholdMatchesTheIssuesDoubledFailRateDesign() throws {
        // The issue: +ln 2 on a fail, -0.118 on a pass, threshold about 5.6 at ARL 10,000.
        let cusum = try BernoulliCUSUM(
            baseline: PassRateBaseline(samples: 1_000_000, passes: 900_000),
            minDrop: 0.05, targetARL: 10_000, guard: .none)
        #expect(abs(Double(cusum.design.failUnits) * cusum.design.unit - log(2)) < 0.01)
        #expect(abs(Double(cusum.design.passUnits) * cusum.design.unit + 0.1178) < 0.001)
        #expect(abs(cusum.threshold - 5.6) < 0.15)
        // Worst-case (zero-start) delays within the detection goals of Benchmarks/RESULTS.md.
        #expect(cusum.averageRunLength(failRate: 0.15) <= 370)
        #expect(cusum.averageRunLength(failRate: 0.20) <= 133)
        #expect(cusum.averageRunLength(failRate: 0.30) <= 48)
    }

    @Test func budgetMapsTimeToSamples() {
        // 30 days at 1 sampled trace a second, 10 series: 25.92 million samples each.
        let arl = DetectionBudget.targetARL(falseAlarmEvery: 30 * 86_400, sampledPerSecond: 1, seriesCount: 10)
        #expect(arl == 25_920_000)
        #expect(DetectionBudget.targetARL(falseAlarmEvery: 60, sampledPerSecond: 0.01, seriesCount: 1) == 1_000)
    }

    @Test func guardRaisesTheThresholdMoreForASmallBaseline() throws {
        let small = try BernoulliCUSUM(
            baseline: PassRateBaseline(samples: 1_000, passes: 900), minDrop: 0.05,
            targetARL: 10_000, guard: .standard(minDrop: 0.05))
        let large = try BernoulliCUSUM(
            baseline: PassRateBaseline(samples: 100_000, passes: 90_000), minDrop: 0.05,
            targetARL: 10_000, guard: .standard(minDrop: 0.05))
        let bare = try BernoulliCUSUM(
            baseline: PassRateBaseline(samples: 100_000, passes: 90_000), minDrop: 0.05,
            targetARL: 10_000, guard: .none)
        #expect(small.threshold > large.threshold && large.threshold > bare.threshold)
        // At a true rate 0.005 worse than the estimate the guard keeps more of the target.
        #expect(large.averageRunLength(failRate: 0.105) > 1.05 * bare.averageRunLength(failRate: 0.105))
    }

    @Test func noFalseAlarmOnALongInControlStream() throws {
        var cusum = try BernoulliCUSUM(baseline: baseline, minDrop: 0.05, targetARL: 10_000_000, guard: .none)
        var rng = SplitMix64(state: 21)
        var alarms = 0
        for _ in 0..<100_000 where cusum.update(failed: uniform(&rng) < 0.1).isAlarm { alarms += 1 }
        #expect(alarms == 0)
    }

    @Test func detectsAStepChangeAndEstimatesItsStart() throws {
        for (seed, failRate, within, slack) in [(UInt64(31), 0.30, 200, 60), (32, 0.20, 600, 150)] {
            // A high target so the 3,000 in-control samples raise no false alarm.
            var cusum = try BernoulliCUSUM(baseline: baseline, minDrop: 0.05, targetARL: 1_000_000, guard: .none)
            var rng = SplitMix64(state: seed)
            let change = 3_000
            var alarm: CUSUMAlarm?
            var index = 0
            while alarm == nil && index < change + 5_000 {
                if case .alarm(let a) = cusum.update(failed: uniform(&rng) < (index < change ? 0.1 : failRate)) {
                    alarm = a
                }
                index += 1
            }
            let found = try #require(alarm)
            #expect(index > change && index - change <= within, "alarm at \(index)")
            #expect(abs(found.changePointIndex - change) <= slack, "estimated start \(found.changePointIndex)")
            #expect(found.changePointIndex + found.samplesSinceChange == index)
            #expect(found.threshold == cusum.threshold)
        }
    }

    @Test func suspectsBeforeItFires() throws {
        var cusum = try BernoulliCUSUM(baseline: baseline, minDrop: 0.05, targetARL: 10_000, guard: .none)
        var decisions: [CUSUMDecision] = []
        while !(decisions.last?.isAlarm ?? false) { decisions.append(cusum.update(failed: true)) }
        #expect(decisions.contains(.suspect))
    }

    @Test func recoveryResolvesAfterAFullRecoveryAndNotWhileStillDown() throws {
        let fresh = try RecoveryCUSUM(baseline: baseline, minDrop: 0.05, resolveSamples: 100)
        #expect(fresh.averageRunLength(failRate: fresh.design.stillDownFailRate) >= 100_000)
        #expect(fresh.averageRunLength(failRate: 0.10) <= 650)
        var rng = SplitMix64(state: 41)
        var resolvedAt: [Int] = []
        for _ in 0..<20 {
            var recovery = fresh
            var n = 0
            repeat { n += 1 } while !recovery.update(failed: uniform(&rng) < 0.1) && n < 5_000
            resolvedAt.append(n)
        }
        #expect(resolvedAt.allSatisfy { $0 >= 100 && $0 < 5_000 })
        #expect(Double(resolvedAt.reduce(0, +)) / 20 < 900)
        var stillDown = fresh
        var falseResolves = 0
        for _ in 0..<5_000 where stillDown.update(failed: uniform(&rng) < 0.15) { falseResolves += 1 }
        #expect(falseResolves == 0)
    }

    @Test func recoveryNeverResolvesBeforeResolveSamples() throws {
        var recovery = try RecoveryCUSUM(baseline: baseline, minDrop: 0.05, resolveSamples: 400)
        // Only passes: the CUSUM crosses within ~100 samples, the floor holds it to 400.
        var n = 0
        repeat { n += 1 } while !recovery.update(failed: false)
        #expect(n == 400)
    }

    @Test func stateRoundTripsAndResumesIdentically() throws {
        var original = try BernoulliCUSUM(baseline: baseline, minDrop: 0.05, targetARL: 10_000, guard: .none)
        var rng = SplitMix64(state: 51)
        for _ in 0..<700 { _ = original.update(failed: uniform(&rng) < 0.13) }
        let encoder = JSONEncoder()
        let design = try JSONDecoder().decode(BernoulliCUSUM.Design.self, from: encoder.encode(original.design))
        let state = try JSONDecoder().decode(CUSUMState.self, from: encoder.encode(original.state))
        #expect(state == original.state && design == original.design)
        var resumed = BernoulliCUSUM(design: design, state: state)
        var differences = 0
        for _ in 0..<3_000 {
            let failed = uniform(&rng) < 0.13
            if original.update(failed: failed) != resumed.update(failed: failed) { differences += 1 }
        }
        #expect(differences == 0)
        #expect(original.state == resumed.state)
    }

    @Test func baselineGatesAndBounds() {
        let small = PassRateBaseline(samples: 999, passes: 900)
        #expect(!small.isReady(minSamples: 1_000))
        #expect(PassRateBaseline(samples: 1_000, passes: 900).isReady(minSamples: 1_000))
        let b = PassRateBaseline(samples: 1_000, passes: 900)
        #expect(b.failRateUpperBound(z: 1.96) > 0.115 && b.failRateUpperBound(z: 1.96) < 0.125)
        // A spotless history still gives a finite design rate.
        #expect(PassRateBaseline(samples: 1_000, passes: 1_000).failRate > 0)
    }
}
