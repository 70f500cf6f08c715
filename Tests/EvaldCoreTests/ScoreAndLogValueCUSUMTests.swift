import EvaldCore
import EvaldTesting
import Foundation
import Testing

@Suite struct ScoreAndLogValueCUSUMTests {
    @Test func brookEvansMatchesMonteCarloForScoresUnderAShift() throws {
        let base = ScoreBaseline(counts: [30, 40, 100, 330, 500])
        var cusum = try ScoreCUSUM(baseline: base, minMeanDrop: 0.1, targetARL: 2_000, estimationGuard: false)
        // Half a point of mean moved from 5 to 3: the run length under a drop of 0.2.
        let shifted = [0.03, 0.04, 0.20, 0.33, 0.40]
        let predicted = cusum.averageRunLength(probabilities: shifted)
        var rng = SplitMix64(state: 12)
        var total = 0
        for _ in 0..<800 {
            cusum.reset()
            var n = 0
            repeat { n += 1 } while !cusum.update(score: score(&rng, shifted)).isAlarm
            total += n
        }
        let simulated = Double(total) / 800
        #expect(abs(simulated - predicted) / predicted < 0.1, "simulated \(simulated), Brook-Evans \(predicted)")
        #expect(cusum.averageRunLength(probabilities: base.probabilities) >= 2_000)
    }

    @Test func scoreCUSUMIsQuietInControlAndFiresOnADrop() throws {
        let probabilities = [0.03, 0.04, 0.10, 0.33, 0.50]
        var rng = SplitMix64(state: 61)
        var base = ScoreBaseline(counts: [0, 0, 0, 0, 0])
        for _ in 0..<2_000 { base.record(score: score(&rng, probabilities)) }
        #expect(base.isReady(minSamples: 1_000))
        var cusum = try ScoreCUSUM(baseline: base, minMeanDrop: 0.1, targetARL: 200_000, estimationGuard: false)
        var alarms = 0
        for _ in 0..<8_000 where cusum.update(score: score(&rng, probabilities)).isAlarm { alarms += 1 }
        #expect(alarms == 0)
        cusum.reset()
        let dropped = [0.03, 0.04, 0.30, 0.33, 0.30]  // mean 0.4 lower
        var n = 0
        repeat { n += 1 } while !cusum.update(score: score(&rng, dropped)).isAlarm && n < 2_000
        #expect(n < 300)
    }

    @Test func logValueCUSUMFiresOnASlowdownOnly() throws {
        var rng = SplitMix64(state: 71)
        func normal() -> Double {
            let u = max(uniform(&rng), 1e-12), v = uniform(&rng)
            return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
        }
        let base = LogValueBaseline(values: (0..<2_000).map { _ in exp(7 + 0.5 * normal()) })
        #expect(abs(base.mean - 7) < 0.05 && abs(base.standardDeviation - 0.5) < 0.05)
        var cusum = try LogValueCUSUM(baseline: base, minRatio: 1.25, targetARL: 1_000_000)
        // Faster calls never fire; ordinary ones do not either.
        var alarms = 0
        for _ in 0..<10_000 where cusum.update(value: exp(6.5 + 0.5 * normal())).isAlarm { alarms += 1 }
        for _ in 0..<10_000 where cusum.update(value: exp(7 + 0.5 * normal())).isAlarm { alarms += 1 }
        #expect(alarms == 0)
        // 50% slower.
        cusum.reset()
        var n = 0
        repeat { n += 1 } while !cusum.update(value: exp(7 + log(1.5) + 0.5 * normal())).isAlarm && n < 2_000
        #expect(n < 200)
    }

    @Test func scoreThresholdAllowsForTheBaselinesEstimationError() async throws {
        try await offPool {
            let small = ScoreBaseline(counts: [30, 40, 100, 330, 500])
            let guarded = try ScoreCUSUM(baseline: small, minMeanDrop: 0.1, targetARL: 1_000)
            let bare = try ScoreCUSUM(baseline: small, minMeanDrop: 0.1, targetARL: 1_000, estimationGuard: false)
            #expect(guarded.threshold > bare.threshold)
            #expect(bare.averageRunLength(probabilities: small.probabilities) >= 1_000)
            // 1,000 scores: the mean's standard error is about 0.03 points, more than the guard
            // allows (its outermost tilt stays half way to the mean where the CUSUM would drift up,
            // 0.0375 points here); the margin it keeps still lengthens the in-control run.
            #expect(
                guarded.averageRunLength(probabilities: small.probabilities)
                    > 1.02 * bare.averageRunLength(probabilities: small.probabilities))
            // And it stays a margin at any budget: a year-long target does not run away.
            let guardedLarge = try ScoreCUSUM(baseline: small, minMeanDrop: 0.1, targetARL: 1e12)
            let bareLarge = try ScoreCUSUM(baseline: small, minMeanDrop: 0.1, targetARL: 1e12, estimationGuard: false)
            #expect(guardedLarge.threshold < 2 * bareLarge.threshold, "\(guardedLarge.threshold) vs \(bareLarge.threshold)")
        }
    }
}
