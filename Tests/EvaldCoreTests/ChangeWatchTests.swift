import EvaldCore
import EvaldTesting
import Foundation
import Testing

@Suite struct VariantDifferenceTests {
    @Test func theBoundaryMatchesHandComputedValues() throws {
        // l = ln 20 = 2.99573; I* = 8 l / 0.05^2 = 9586.35; rho^2 = (2 l + ln(2 l + 1)) / I* = 8.27868e-4;
        // at I = 400: a = 1.331147, half-width = sqrt(2 a / (I^2 rho^2) * ln(sqrt(a) / 0.05)) = 0.251170.
        #expect(abs(VariantDifference.halfWidth(information: 400, alpha: 0.05, minDrop: 0.05) - 0.251170) < 1e-5)
        // 900/1000 against 50/100: variances shrunk by one sample of 0.25 are 0.090160 and 0.25,
        // v = 9.0160e-5 + 2.5e-3, I = 386.077, half-width 0.258919.
        let result = try #require(
            VariantDifference.compare(
                incumbent: ArmTally(passes: 900, n: 1_000), variant: ArmTally(passes: 50, n: 100), alpha: 0.05, minDrop: 0.05, widestVariance: 0.25))
        #expect(abs(result.difference + 0.4) < 1e-12)
        #expect(abs(result.low + 0.658919) < 1e-5 && abs(result.high + 0.141081) < 1e-5)
        #expect(result.verdict == .worse)
        // Too few samples: no interval.
        #expect(
            VariantDifference.compare(
                incumbent: ArmTally(passes: 9, n: 10), variant: ArmTally(passes: 5, n: 10), alpha: 0.05, minDrop: 0.05, widestVariance: 0.25) == nil)
    }

    @Test func verdictsFollowTheIntervalAndMinDrop() throws {
        let equal = try #require(
            VariantDifference.compare(
                incumbent: ArmTally(passes: 90_000, n: 100_000), variant: ArmTally(passes: 9_010, n: 10_000), alpha: 0.05, minDrop: 0.05,
                widestVariance: 0.25))
        #expect(equal.verdict == .equivalent)
        let better = try #require(
            VariantDifference.compare(
                incumbent: ArmTally(passes: 7_000, n: 10_000), variant: ArmTally(passes: 900, n: 1_000), alpha: 0.05, minDrop: 0.05,
                widestVariance: 0.25))
        #expect(better.verdict == .better)
        let early = try #require(
            VariantDifference.compare(
                incumbent: ArmTally(passes: 27, n: 30), variant: ArmTally(passes: 24, n: 30), alpha: 0.05, minDrop: 0.05, widestVariance: 0.25))
        #expect(early.verdict == .undecided)
    }

    @Test func theIntervalCoversTheTrueDifferenceInAtLeast95PercentOfRunsCheckedEvery10Samples() async {
        await offPool {
            // 1,000 seeded A/B runs, pass rates 0.90 and 0.85 (a 70/30 split), and 1,000 with 1-5
            // scores; each run looked at every 10 samples for 2,000 samples. A run counts as covered
            // only if every look covered the true difference.
            var rng = SplitMix64(state: 1_601)
            var covered = 0, coveredScores = 0
            let runs = 1_000
            let scoresA = [0.05, 0.05, 0.2, 0.3, 0.4], scoresB = [0.1, 0.1, 0.2, 0.3, 0.3]
            let meanA = zip(1...5, scoresA).map { Double($0) * $1 }.reduce(0, +)
            let meanB = zip(1...5, scoresB).map { Double($0) * $1 }.reduce(0, +)
            for _ in 0..<runs {
                var a = ArmTally(), b = ArmTally(), sa = ArmTally(), sb = ArmTally()
                var ok = true, okScores = true
                for i in 1...2_000 {
                    if uniform(&rng) < 0.7 {
                        a.add(uniform(&rng) < 0.90 ? 1 : 0)
                        sa.add(Double(score(&rng, scoresA)))
                    } else {
                        b.add(uniform(&rng) < 0.85 ? 1 : 0)
                        sb.add(Double(score(&rng, scoresB)))
                    }
                    guard i % 10 == 0 else { continue }
                    if let d = VariantDifference.compare(incumbent: a, variant: b, alpha: 0.05, minDrop: 0.05, widestVariance: 0.25),
                        !(d.low <= -0.05 && -0.05 <= d.high)
                    {
                        ok = false
                    }
                    if let d = VariantDifference.compare(incumbent: sa, variant: sb, alpha: 0.05, minDrop: 0.1, widestVariance: 4),
                        !(d.low <= meanB - meanA && meanB - meanA <= d.high)
                    {
                        okScores = false
                    }
                }
                if ok { covered += 1 }
                if okScores { coveredScores += 1 }
            }
            #expect(covered >= 950, "\(covered) of \(runs) runs covered at every look")
            #expect(coveredScores >= 950, "\(coveredScores) of \(runs) runs covered at every look")
        }
    }
}

@Suite struct ChangeWatchTests {
    static let settings = ChangeSettings(drift: DriftSettings(alpha: 0.01, minDrop: 0.05, minSamples: 100), lookback: 7 * 86400)
    static let start = 1_795_824_000.0

    /// One answer every 10 s on route `r`, model `m`, one check `ok`.
    struct Feed {
        var watch = ChangeWatch(route: "r", dimension: .promptVersion)
        var t = ChangeWatchTests.start
        var id: Int64 = 0
        var settings = ChangeWatchTests.settings
        var events: [ChangeWatch.Event] = []

        mutating func answer(_ version: String, passed: Bool, score: Int? = nil) {
            t += 10
            id += 1
            events += watch.noteAnswer(version: version, at: Date(timeIntervalSince1970: t), evaluationID: id, settings: settings)
            events += watch.observe(version: version, metric: "m|check:ok", passed: passed, evaluationID: id, settings: settings)
            if let score {
                events += watch.observe(version: version, metric: "m|judge:help@1+abcd", score: score, evaluationID: id, settings: settings)
            }
        }

        var changed: [ChangeWatch.Change] { events.compactMap { if case .changed(let c, _) = $0 { c } else { nil } } }
        var regressions: [String] { events.compactMap { if case .regression(_, _, let metric, _) = $0 { metric } else { nil } } }
        var variantWorse: [String] { events.compactMap { if case .variantWorse(_, let metric, _, _) = $0 { metric } else { nil } } }
        var superseded: [ChangeWatch.Change] {
            events.compactMap { if case .settled(let c?, let s) = $0, s.superseded { c } else { nil } }
        }
    }

    @Test func aDeployThatHalvesACheckFiresARegressionAndARollbackEndsIt() {
        var feed = Feed()
        for n in 0..<1_000 { feed.answer("v1", passed: n % 10 != 0) }
        #expect(feed.changed.isEmpty, "the first version is no change")
        for n in 0..<300 { feed.answer("v2", passed: n % 10 < 5) }
        #expect(feed.changed.map { "\($0.before)->\($0.after)" } == ["v1->v2"])
        #expect(feed.watch.changes.last?.kind == .deploy)
        #expect(feed.regressions.contains("m|check:ok"))
        #expect(feed.variantWorse.isEmpty, "a deploy is tested before/after, not side by side")
        // Rollback: v1 takes the traffic back; the change ends and its alerts with it. v1 is no
        // new change (it answered within the lookback).
        for n in 0..<40 { feed.answer("v1", passed: n % 10 != 0) }
        #expect(feed.superseded.count == 1 && feed.superseded.first?.rolledBack == true)
        #expect(feed.changed.count == 1)
    }

    @Test func steadyAlternationIsNoChange() {
        // Two models answering side by side from the start, then for a day.
        var feed = Feed()
        feed.watch = ChangeWatch(route: "r", dimension: .model)
        for n in 0..<9_000 { feed.answer(n % 3 == 0 ? "model-b" : "model-a", passed: n % 10 != 0) }
        #expect(feed.changed.isEmpty)
        #expect(feed.regressions.isEmpty && feed.variantWorse.isEmpty)
    }

    @Test func aFallbackThatStartsLaterIsOneSliceThenAVariant() {
        var feed = Feed()
        for n in 0..<500 { feed.answer("a", passed: n % 10 != 0) }
        for n in 0..<2_000 { feed.answer(n % 5 == 0 ? "b" : "a", passed: n % 7 != 0) }
        #expect(feed.changed.count == 1)
        #expect(feed.watch.changes.last?.kind == .slice)
        #expect(feed.regressions.isEmpty && feed.variantWorse.isEmpty)
    }

    @Test func aWorseSliceFiresVariantWorseAndNoRegression() {
        // A 10% slice whose judge mean is 0.4 lower (4.3 -> 3.9) and whose check is equal.
        var rng = SplitMix64(state: 1_602)
        var feed = Feed()
        let good = [0.0, 0.05, 0.1, 0.3, 0.55], worse = [0.05, 0.05, 0.2, 0.3, 0.4]
        for _ in 0..<1_000 { feed.answer("v1", passed: uniform(&rng) < 0.9, score: score(&rng, good)) }
        var answers = 0
        while feed.variantWorse.isEmpty && answers < 20_000 {
            answers += 1
            if uniform(&rng) < 0.1 {
                feed.answer("v2", passed: uniform(&rng) < 0.9, score: score(&rng, worse))
            } else {
                feed.answer("v1", passed: uniform(&rng) < 0.9, score: score(&rng, good))
            }
        }
        #expect(feed.variantWorse == ["m|judge:help@1+abcd#mean_score"], "after \(answers) answers")
        #expect(feed.watch.changes.last?.kind == .slice)
        #expect(feed.regressions.isEmpty)
    }

    @Test func aVersionUnseenForLongerThanTheLookbackIsNewAgain() {
        var feed = Feed()
        for n in 0..<300 { feed.answer("v1", passed: n % 10 != 0) }
        for n in 0..<300 { feed.answer("v2", passed: n % 10 != 0) }
        #expect(feed.changed.count == 1)
        feed.t += 8 * 86400
        for n in 0..<300 { feed.answer("v1", passed: n % 10 != 0) }
        #expect(feed.changed.map { "\($0.before)->\($0.after)" } == ["v1->v2", "v2->v1"])
    }

    @Test func falseAlarmsPerEqualQualityChangeStayAtOrBelowAlpha() async {
        await offPool {
            // 300 deploys and 300 slices of an equal version after 400 answers of the old one, watched
            // for 1,500 answers: PromptRegression and VariantWorse each at most alpha (0.05 here) per
            // change, with two standard errors of binomial slack.
            var rng = SplitMix64(state: 1_603)
            let alpha = 0.05
            var settings = Self.settings
            settings.drift.alpha = alpha
            var regressions = 0, worse = 0
            let trials = 300
            for trial in 0..<trials {
                var deploy = Feed(settings: settings)
                var slice = Feed(settings: settings)
                for _ in 0..<400 {
                    deploy.answer("v\(trial)", passed: uniform(&rng) < 0.9)
                    slice.answer("v\(trial)", passed: uniform(&rng) < 0.9)
                }
                for _ in 0..<1_500 {
                    deploy.answer("w\(trial)", passed: uniform(&rng) < 0.9)
                    slice.answer(uniform(&rng) < 0.2 ? "w\(trial)" : "v\(trial)", passed: uniform(&rng) < 0.9)
                }
                if !deploy.regressions.isEmpty { regressions += 1 }
                if !slice.variantWorse.isEmpty || !slice.regressions.isEmpty { worse += 1 }
            }
            let bound = alpha + 2 * (alpha * (1 - alpha) / Double(trials)).squareRoot()
            #expect(Double(regressions) / Double(trials) <= bound, "\(regressions) of \(trials)")
            #expect(Double(worse) / Double(trials) <= bound, "\(worse) of \(trials)")
        }
    }

    @Test func theWatchRoundTripsThroughJSON() throws {
        var feed = Feed()
        for n in 0..<200 { feed.answer("v1", passed: n % 10 != 0, score: 4) }
        for n in 0..<50 { feed.answer(n % 2 == 0 ? "v2" : "v1", passed: true, score: 5) }
        let copy = try DetectionStateCodec.decoder().decode(ChangeWatch.self, from: DetectionStateCodec.encoder().encode(feed.watch))
        #expect(copy == feed.watch)
    }
}
