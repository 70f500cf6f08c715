import Foundation

/// Whether a judge's verdicts moved when its own version switched: stored traces its previous
/// version judged are judged again by the new one, and the two verdicts on each trace are
/// compared as pairs (`PairedComparison`: McNemar's test on pass/fail, the paired t test on
/// 1-5 scores). Pairing removes the spread between traces, so 200 traces show a shift of a
/// few points. The test runs once, when every recheck is in: a fixed-sample test at
/// `detection.drift_alpha`, and the shift must also be at least `min_drop` (pass rate) or
/// `2 x min_drop` (mean score) to count.
public struct JudgeRecheckTest: Sendable, Equatable {
    public enum State: String, Sendable, Codable {
        /// The verdicts moved: JudgeDrift fires.
        case drift
        /// They did not move by a significant `min_drop`.
        case noDrift = "no_drift"
        /// Too few pairs to tell (`judge.recheck_sample` 0, traces pruned, judge errors).
        case insufficient
    }

    /// The old and the new verdict on one trace.
    public struct Pair: Sendable, Equatable {
        public var oldScore: Double
        public var oldPassed: Bool
        public var newScore: Double
        public var newPassed: Bool

        public init(oldScore: Double, oldPassed: Bool, newScore: Double, newPassed: Bool) {
            self.oldScore = oldScore
            self.oldPassed = oldPassed
            self.newScore = newScore
            self.newPassed = newPassed
        }
    }

    /// Fewer pairs than this decide nothing.
    public static let minPairs = 30

    public var state: State
    public var pairs: Int
    /// Share of traces on which both versions gave the same pass/fail verdict.
    public var agreement: Double
    /// Pass rate, then (for 1-5 judges) mean score, old version against new.
    public var comparisons: [ReplayMetricComparison]

    public static func evaluate(_ pairs: [Pair], meanScores: Bool, alpha: Double, minDrop: Double) -> JudgeRecheckTest {
        guard pairs.count >= minPairs else {
            return JudgeRecheckTest(state: .insufficient, pairs: pairs.count, agreement: .nan, comparisons: [])
        }
        let replayed = pairs.enumerated().map { index, pair in
            ReplayPair(
                evaluationID: Int64(index),
                production: ReplayScores(passed: ["verdict": pair.oldPassed], scores: meanScores ? ["verdict": pair.oldScore] : [:]),
                candidate: ReplayScores(passed: ["verdict": pair.newPassed], scores: meanScores ? ["verdict": pair.newScore] : [:]))
        }
        let comparisons = PairedComparison.compare(replayed, minDrop: minDrop)
        let moved = comparisons.contains { comparison in
            let margin = comparison.measure == .meanScore ? 2 * minDrop : minDrop
            return comparison.pValue < alpha && abs(comparison.difference) >= margin
        }
        let agreement = Double(pairs.count { $0.oldPassed == $0.newPassed }) / Double(pairs.count)
        return JudgeRecheckTest(state: moved ? .drift : .noDrift, pairs: pairs.count, agreement: agreement, comparisons: comparisons)
    }

    /// The numbers an alert and `evald explain` show.
    public var numbers: [String: Double] {
        var numbers: [String: Double] = ["pairs": Double(pairs)]
        if agreement.isFinite { numbers["agreement"] = agreement }
        for comparison in comparisons {
            let prefix = comparison.measure == .meanScore ? "mean_score" : "pass_rate"
            numbers["\(prefix)_before"] = comparison.production
            numbers["\(prefix)_after"] = comparison.candidate
            numbers["\(prefix)_p_value"] = comparison.pValue
        }
        return numbers
    }
}
