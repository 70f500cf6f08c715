import EvaldCore
import EvaldTesting
import Foundation
import Testing

@Suite struct PairedComparisonTests {
    @Test func mcNemarExactIsTwiceTheBinomialTailOfTheSmallerCount() {
        // 1 lost, 7 won: P(X <= 1 | 8, 1/2) = 9/256.
        #expect(abs(PairedComparison.mcNemarExact(lost: 1, won: 7) - 18.0 / 256) < 1e-12)
        // 0 lost, 5 won: 2/32.
        #expect(abs(PairedComparison.mcNemarExact(lost: 0, won: 5) - 2.0 / 32) < 1e-12)
        // Symmetric: capped at 1.
        #expect(PairedComparison.mcNemarExact(lost: 3, won: 3) == 1)
        #expect(PairedComparison.mcNemarExact(lost: 0, won: 0) == 1)
        #expect(PairedComparison.mcNemarExact(lost: 7, won: 1) == PairedComparison.mcNemarExact(lost: 1, won: 7))
    }

    @Test func mcNemarAsymptoticUsesTheContinuityCorrection() {
        // (|10 - 25| - 1)^2 / 35 = 5.6; P(chi2(1) >= 5.6) = 0.017961.
        let test = PairedComparison.mcNemarAsymptotic(lost: 10, won: 25)
        #expect(abs(test.chiSquare - 5.6) < 1e-12)
        #expect(abs(test.p - 0.017961) < 1e-5)
        // Close to the exact test once the discordant pairs are many.
        let exact = PairedComparison.mcNemarExact(lost: 40, won: 70)
        let asymptotic = PairedComparison.mcNemarAsymptotic(lost: 40, won: 70).p
        #expect(abs(exact - asymptotic) / exact < 0.1, "\(exact) vs \(asymptotic)")
    }

    @Test func thePairedRateIntervalIsAgrestiMin() {
        // n 100, 10 lost, 2 won: cells + 1/2 -> b 10.5, c 2.5, n 102; difference -8/102.
        let interval = PairedComparison.pairedRateInterval(n: 100, lost: 10, won: 2)
        #expect(abs(interval.low - -0.146021) < 1e-5)
        #expect(abs(interval.high - -0.010841) < 1e-5)
        // No disagreement on 3 inputs is not certainty.
        let few = PairedComparison.pairedRateInterval(n: 3, lost: 0, won: 0)
        #expect(few.low < -0.2 && few.high > 0.2)
    }

    @Test func thePairedTTestMatchesHandComputedValues() {
        // Differences 1, 2, 3 and the two pseudo-pairs at mean +- 1: variance 1, se sqrt(1/3),
        // t(2) quantile 4.303; t = 2 sqrt(3), two-sided p (2 df) = 1 - t / sqrt(t^2 + 2).
        let test = PairedComparison.pairedMeanDifference([1, 2, 3])
        #expect(abs(test.mean - 2) < 1e-12)
        #expect(abs(test.low - (2 - 4.303 * sqrt(1.0 / 3))) < 1e-9)
        #expect(abs(test.high - (2 + 4.303 * sqrt(1.0 / 3))) < 1e-9)
        let t = 2 * sqrt(3.0)
        #expect(abs(test.p - (1 - t / sqrt(t * t + 2))) < 1e-9)
        // One degree of freedom: p = 1 - (2 / pi) atan(t).
        let one = PairedComparison.pairedMeanDifference([0.5, 1.5])
        let t1 = one.mean / sqrt((0.25 + 0.25 + 1 + 1) / 3 / 2)
        #expect(abs(one.p - (1 - 2 / Double.pi * atan(t1))) < 1e-9)
    }

    @Test func verdictsNeedSignificanceAndTheMargin() {
        #expect(PairedComparison.verdict(difference: -0.2, low: -0.3, high: -0.1, significant: true, margin: 0.05) == .worse)
        // Significant but smaller than the margin, and inside it: equivalent.
        #expect(PairedComparison.verdict(difference: -0.02, low: -0.04, high: -0.01, significant: true, margin: 0.05) == .equivalent)
        #expect(PairedComparison.verdict(difference: 0.2, low: 0.1, high: 0.3, significant: true, margin: 0.05) == .better)
        #expect(PairedComparison.verdict(difference: -0.1, low: -0.3, high: 0.1, significant: false, margin: 0.05) == .undecided)
    }

    @Test func compareGivesEveryMetricWithItsOwnPairs() {
        var pairs: [ReplayPair] = []
        for id in 0..<200 {
            // The candidate fails the check on 30 inputs production passed; the judge ties.
            let lost = id < 30
            pairs.append(
                ReplayPair(
                    evaluationID: Int64(id),
                    production: ReplayScores(passed: ["check:a": true, "judge:j": true], scores: ["judge:j": 5]),
                    candidate: ReplayScores(passed: ["check:a": !lost, "judge:j": true], scores: ["judge:j": 5])))
        }
        // One pair where the judge failed on the candidate's side: not counted for the judge.
        pairs[199].candidate.passed["judge:j"] = nil
        pairs[199].candidate.scores["judge:j"] = nil
        let metrics = PairedComparison.compare(pairs, minDrop: 0.05)
        #expect(metrics.map(\.metric) == ["check:a", "judge:j", "judge:j"])
        let check = metrics[0]
        #expect(check.n == 200 && check.lost == 30 && check.won == 0)
        #expect(abs(check.difference - -0.15) < 1e-12)
        #expect(check.verdict == .worse)
        #expect(metrics[1].n == 199 && metrics[1].verdict == .equivalent)
        #expect(metrics[2].measure == .meanScore && metrics[2].verdict == .equivalent)
    }

    /// The reason replay pairs: on the same inputs, a drop shows in fewer samples than two
    /// independent samples of the same size would show it.
    @Test func pairingDetectsADropWithFewerSamplesThanIndependentSamples() {
        var rng = SplitMix64(state: 2026)
        let n = 150, trials = 300
        var pairedHits = 0, unpairedHits = 0
        for _ in 0..<trials {
            var pairs: [(Bool, Bool)] = []
            var independent: (Int, Int) = (0, 0)
            for _ in 0..<n {
                // Inputs differ in difficulty; the candidate fails 10 points more on the same input.
                let difficulty = uniform(&rng)
                let u = uniform(&rng)
                let production = u > difficulty * 0.4
                let candidate = u > difficulty * 0.4 + 0.1
                pairs.append((production, candidate))
                let other = uniform(&rng), otherU = uniform(&rng)
                independent.0 += production ? 1 : 0
                independent.1 += otherU > other * 0.4 + 0.1 ? 1 : 0
            }
            let lost = pairs.count { $0.0 && !$0.1 }, won = pairs.count { !$0.0 && $0.1 }
            if PairedComparison.mcNemarExact(lost: lost, won: won) < 0.05, lost > won { pairedHits += 1 }
            // Two-proportion z test, pooled.
            let p1 = Double(independent.0) / Double(n), p2 = Double(independent.1) / Double(n)
            let pooled = (p1 + p2) / 2
            let z = (p1 - p2) / sqrt(pooled * (1 - pooled) * 2 / Double(n))
            if z > 1.96 { unpairedHits += 1 }
        }
        #expect(pairedHits > unpairedHits + trials / 5, "paired \(pairedHits), unpaired \(unpairedHits) of \(trials)")
    }
}
