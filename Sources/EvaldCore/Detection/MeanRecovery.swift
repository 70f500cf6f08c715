import Foundation

/// Hysteresis for a judge-score alert: after a `ScoreCUSUM` fires, an upward CUSUM
/// from "still down" (the frozen baseline histogram tilted down by the design drop) toward
/// the baseline resolves it.
///
/// It is the downward `ScoreCUSUM` run on mirrored scores (6 - s): an upward shift of s is a
/// downward shift of 6 - s, so the same exact Brook-Evans calibration applies. The threshold
/// makes a series still `minMeanDrop` below baseline resolve falsely once per
/// `falseResolveEvery` samples (100,000, as for pass rates), and it never resolves before
/// `resolveSamples` samples after firing.
public struct ScoreRecovery: Sendable, Equatable {
    public struct Design: Codable, Sendable, Equatable {
        public var mirrored: ScoreCUSUM.Design
        public var resolveSamples: Int
    }

    public let design: Design
    private var detector: ScoreCUSUM

    public init(baseline: ScoreBaseline, minMeanDrop: Double, resolveSamples: Int, falseResolveEvery: Double = 100_000) throws {
        let down = ScoreCUSUM.tilted(baseline.probabilities, meanShift: -minMeanDrop)
        // Counts only carry the distribution into ScoreCUSUM; a large total keeps rounding
        // negligible and the estimation guard is off (the frozen baseline is taken as given).
        let mirroredCounts = down.reversed().map { Int(($0 * 1_000_000).rounded()) }
        let detector = try ScoreCUSUM(
            baseline: ScoreBaseline(counts: mirroredCounts), minMeanDrop: minMeanDrop,
            targetARL: falseResolveEvery, designShiftMultiplier: 1, estimationGuard: false)
        self.init(design: Design(mirrored: detector.design, resolveSamples: resolveSamples))
    }

    public init(design: Design, state: CUSUMState = CUSUMState()) {
        self.design = design
        self.detector = ScoreCUSUM(design: design.mirrored, state: state)
    }

    public var state: CUSUMState { detector.state }

    /// True once the alert may resolve.
    public mutating func update(score: Int) -> Bool {
        detector.update(score: 6 - score).isAlarm && detector.state.samplesSeen >= design.resolveSamples
    }
}

/// Hysteresis for a latency or cost alert: a downward CUSUM on log values from "still up"
/// (baseline mean + ln minRatio) back toward the baseline, as the upward `LogValueCUSUM` on
/// 1 / value (ln(1/x) = -ln x) against the mirrored still-up mean. False resolution at a
/// series still `minRatio` up: once per `falseResolveEvery` samples.
public struct LogValueRecovery: Sendable, Equatable {
    public struct Design: Codable, Sendable, Equatable {
        public var mirrored: LogValueCUSUM.Design
        public var resolveSamples: Int
    }

    public let design: Design
    private var detector: LogValueCUSUM

    public init(baseline: LogValueBaseline, minRatio: Double, resolveSamples: Int, falseResolveEvery: Double = 100_000) throws {
        let stillUp = LogValueBaseline(
            samples: baseline.samples, mean: -(baseline.mean + log(minRatio)),
            standardDeviation: baseline.standardDeviation)
        let detector = try LogValueCUSUM(
            baseline: stillUp, minRatio: minRatio, targetARL: falseResolveEvery,
            designShiftMultiplier: 1)
        self.init(design: Design(mirrored: detector.design, resolveSamples: resolveSamples))
    }

    public init(design: Design, state: CUSUMState = CUSUMState()) {
        self.design = design
        self.detector = LogValueCUSUM(design: design.mirrored, state: state)
    }

    public var state: CUSUMState { detector.state }

    public mutating func update(value: Double) -> Bool {
        guard value > 0, value.isFinite else { return false }
        return detector.update(value: 1 / value).isAlarm && detector.state.samplesSeen >= design.resolveSamples
    }
}
