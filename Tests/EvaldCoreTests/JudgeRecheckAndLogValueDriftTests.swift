import EvaldCore
import EvaldTesting
import Foundation
import Testing

@Suite struct JudgeRecheckTestTests {
    func pairs(_ count: Int, shift: Double, flipEvery: Int = 0) -> [JudgeRecheckTest.Pair] {
        (0..<count).map { i in
            let old = [5.0, 5, 4, 4, 4, 5, 4, 4, 5, 4][i % 10]
            var new = old + shift
            if flipEvery > 0, i % flipEvery == 0 { new = old == 5 ? 4 : 5 }
            return JudgeRecheckTest.Pair(oldScore: old, oldPassed: old >= 4, newScore: new, newPassed: new >= 4)
        }
    }

    @Test func aJudgeThatScoresOnePointLowerHasDrifted() {
        let test = JudgeRecheckTest.evaluate(pairs(200, shift: -1), meanScores: true, alpha: 0.01, minDrop: 0.05)
        #expect(test.state == .drift)
        #expect(test.pairs == 200 && abs(test.agreement - 0.4) < 1e-12)
        #expect(test.numbers["mean_score_before"] == 4.4 && test.numbers["mean_score_after"] == 3.4)
        #expect(test.numbers["pass_rate_after"] == 0.4)
    }

    @Test func aJudgeThatGradesAsBeforeHasNotDrifted() {
        // Noise without direction: a verdict flips now and then, both ways.
        #expect(JudgeRecheckTest.evaluate(pairs(200, shift: 0, flipEvery: 17), meanScores: true, alpha: 0.01, minDrop: 0.05).state == .noDrift)
        #expect(JudgeRecheckTest.evaluate(pairs(200, shift: 0), meanScores: false, alpha: 0.01, minDrop: 0.05).state == .noDrift)
        // A shift up is a move too.
        #expect(JudgeRecheckTest.evaluate(pairs(200, shift: 0.6), meanScores: true, alpha: 0.01, minDrop: 0.05).state == .drift)
    }

    @Test func tooFewPairsDecideNothing() {
        #expect(JudgeRecheckTest.evaluate(pairs(10, shift: -1), meanScores: true, alpha: 0.01, minDrop: 0.05).state == .insufficient)
        #expect(JudgeRecheckTest.evaluate([], meanScores: true, alpha: 0.01, minDrop: 0.05).state == .insufficient)
    }
}

@Suite struct LogValueDriftTestTests {
    /// Log-normal values around `median` with log spread 0.4.
    func values(_ count: Int, median: Double, rng: inout SplitMix64) -> [Double] {
        (0..<count).map { _ in
            let u1 = max(1e-12, Double(rng.next() >> 11) / Double(1 << 53)), u2 = Double(rng.next() >> 11) / Double(1 << 53)
            let z = (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
            return median * exp(0.4 * z)
        }
    }

    func baseline(_ values: [Double]) -> LogValueBaseline {
        LogValueBaseline(values: values)
    }

    @Test func equalVersionsRarelyAlarmAndARiseIsFound() async throws {
        try await offPool {
            var rng = SplitMix64(state: 7)
            var falseAlarms = 0
            let runs = 300
            for _ in 0..<runs {
                var test = try #require(LogValueDriftTest(old: baseline(values(1_000, median: 800, rng: &rng)), alpha: 0.01, minSamples: 100, z: 2.33))
                for value in values(2_000, median: 800, rng: &rng) where test.update(value: value) {
                    falseAlarms += 1
                    break
                }
            }
            // At most alpha plus the chance the old mean's bound is too low (1%): 2% of 300 is 6.
            #expect(falseAlarms <= 6, "\(falseAlarms) of \(runs) equal versions alarmed")

            var delays: [Int] = []
            for _ in 0..<50 {
                var test = try #require(LogValueDriftTest(old: baseline(values(1_000, median: 800, rng: &rng)), alpha: 0.01, minSamples: 100, z: 2.33))
                for (index, value) in values(2_000, median: 1_200, rng: &rng).enumerated() where test.update(value: value) {
                    delays.append(index + 1)
                    break
                }
            }
            #expect(delays.count == 50, "a 50% rise is found in every run")
            #expect(Double(delays.reduce(0, +)) / Double(max(1, delays.count)) < 100)
        }
    }

    @Test func oneWildOutlierDoesNotDecideAlone() throws {
        var rng = SplitMix64(state: 9)
        var test = try #require(LogValueDriftTest(old: baseline(values(1_000, median: 800, rng: &rng)), alpha: 0.001, minSamples: 100, z: 2.33))
        let fired = test.update(value: 800_000)
        #expect(!fired)
        #expect(test.samples == 1 && abs(test.newTypical - 800_000) < 1e-6)
    }

    @Test func aFixedPriceNeedsNoSpread() throws {
        var test = try #require(LogValueDriftTest(old: baseline(Array(repeating: 0.0004, count: 500)), alpha: 0.001, minSamples: 100, z: 2.33))
        var alarms = 0
        for _ in 0..<1_000 where test.update(value: 0.0004) { alarms += 1 }
        #expect(alarms == 0)
        var dearer = try #require(LogValueDriftTest(old: baseline(Array(repeating: 0.0004, count: 500)), alpha: 0.001, minSamples: 100, z: 2.33))
        var fired = false
        for _ in 0..<50 where dearer.update(value: 0.0008) { fired = true }
        #expect(fired)
    }
}
