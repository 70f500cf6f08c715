import EvaldCore
import EvaldTesting
import Foundation
import Testing

@Suite struct DriftSPRTTests {
    @Test func driftSPRTKeepsItsFalseAlertRateAtTheNull() throws {
        // The worst null: the new version's fail rate exactly at the reference (the old rate's
        // upper bound), watched after every sample for 1,000 samples.
        var rng = SplitMix64(state: 81)
        let old = PassRateBaseline(samples: 1_000, passes: 900)
        let fresh = try #require(DriftSPRT(oldBaseline: old, alpha: 0.05, minDrop: 0.05, minSamples: 100))
        var alerts = 0
        let trials = 200
        for _ in 0..<trials {
            var test = fresh
            for _ in 0..<1_000 where test.update(failed: uniform(&rng) < fresh.referenceFailRate) == .drift {
                alerts += 1
                break
            }
        }
        // Ville: at most alpha = 5%; binomial slack of two standard errors.
        #expect(Double(alerts) / Double(trials) <= 0.05 + 2 * (0.05 * 0.95 / Double(trials)).squareRoot())
    }

    @Test func driftSPRTDetectsARealDropAndClearsAnEqualVersion() throws {
        var rng = SplitMix64(state: 82)
        let old = PassRateBaseline(samples: 1_000, passes: 900)
        #expect(
            DriftSPRT(
                oldBaseline: PassRateBaseline(samples: 99, passes: 90), alpha: 0.01, minDrop: 0.05,
                minSamples: 100) == nil)
        var worse = try #require(DriftSPRT(oldBaseline: old, alpha: 0.01, minDrop: 0.05, minSamples: 100))
        var n = 0
        while worse.update(failed: uniform(&rng) < 0.25) != .drift && n < 5_000 { n += 1 }
        #expect(worse.verdict == .drift && n < 400)
        #expect(worse.logLikelihoodRatio >= worse.logThreshold)
        var same = try #require(DriftSPRT(oldBaseline: old, alpha: 0.01, minDrop: 0.05, minSamples: 100))
        n = 0
        while same.update(failed: uniform(&rng) < 0.1) != .noDrift && n < 5_000 { n += 1 }
        #expect(same.verdict == .noDrift && n < 2_000)
        let copy = try JSONDecoder().decode(DriftSPRT.self, from: JSONEncoder().encode(same))
        #expect(copy == same)
    }

    @Test func noDriftIsRarelySaidOfAVersionThatIsMinDropWorse() throws {
        // The "no drift" verdict is always valid too: at a new fail rate of old + min_drop it
        // may be said with probability at most alpha however long the watch.
        var rng = SplitMix64(state: 83)
        let old = PassRateBaseline(samples: 1_000, passes: 900)
        let fresh = try #require(DriftSPRT(oldBaseline: old, alpha: 0.05, minDrop: 0.05, minSamples: 100))
        var cleared = 0
        let trials = 200
        for _ in 0..<trials {
            var test = fresh
            for _ in 0..<1_000 where test.update(failed: uniform(&rng) < old.failRate + 0.05) == .noDrift {
                cleared += 1
                break
            }
        }
        #expect(Double(cleared) / Double(trials) <= 0.05 + 2 * (0.05 * 0.95 / Double(trials)).squareRoot())
    }
}
