/// A standardized one-sided (downward) CUSUM on 1-5 judge scores (Page 1954):
/// S = max(0, S + (mu0 - x) / sigma0 - k), with reference value k = half the design shift in
/// baseline standard deviations, and the design shift twice `minMeanDrop` (the same reasoning
/// as `BernoulliCUSUM`: near optimal from the minimum drop to four times it).
///
/// Scores are far from normal (skewed, five values), so the normal-theory thresholds would
/// be wrong. The threshold is calibrated on the baseline's own empirical score distribution:
/// the increments take five lattice values, so the Brook-Evans chain over the baseline
/// histogram gives the exact in-control ARL of this detector under that distribution, with
/// no simulation noise and no seed needed.
public struct ScoreCUSUM: Sendable, Equatable {
    public struct Design: Codable, Sendable, Equatable {
        public var baselineMean: Double
        public var baselineStandardDeviation: Double
        /// k, in baseline standard deviations.
        public var referenceValue: Double
        public var targetARL: Double
        public var unit: Double
        /// Increment in units for a score of 1, ..., 5.
        public var scoreUnits: [Int]
        public var thresholdUnits: Int

        public var threshold: Double { Double(thresholdUnits) * unit }

        public func steps(probabilities: [Double]) -> [LatticeStep] {
            zip(scoreUnits, probabilities).map { LatticeStep(units: $0.0, probability: $0.1) }
        }
    }

    public let design: Design
    private var cusum: LatticeCUSUM

    /// - Parameters:
    ///   - minMeanDrop: the smallest drop of the mean score that matters, in score points.
    ///   - calibration: the distribution the ARL target holds under; defaults to the baseline
    ///     histogram itself.
    public init(baseline: ScoreBaseline, minMeanDrop: Double, targetARL: Double,
                designShiftMultiplier: Double = 2, calibration: [Double]? = nil,
                state: CUSUMState = CUSUMState()) throws {
        let mean = baseline.mean
        // A floor on sigma: a baseline of all 5s has sd 0, which would make every lower
        // score an infinite step.
        let sigma = max(baseline.standardDeviation, 0.25)
        let k = designShiftMultiplier * minMeanDrop / sigma / 2
        let increments = (1...5).map { (mean - Double($0)) / sigma - k }
        let unit = CUSUMThreshold.unit(for: increments, resolution: 10, maxSpan: 120)
        var design = Design(baselineMean: mean, baselineStandardDeviation: sigma, referenceValue: k,
                            targetARL: targetARL, unit: unit,
                            scoreUnits: increments.map { Int(($0 / unit).rounded()) }, thresholdUnits: 1)
        design.thresholdUnits = try CUSUMThreshold.thresholdUnits(
            steps: design.steps(probabilities: calibration ?? baseline.probabilities), targetARL: targetARL)
        self.init(design: design, state: state)
    }

    public init(design: Design, state: CUSUMState = CUSUMState()) {
        self.design = design
        self.cusum = LatticeCUSUM(unit: design.unit, thresholdUnits: design.thresholdUnits, state: state)
    }

    public var state: CUSUMState { cusum.state }
    public var threshold: Double { design.threshold }
    public var changePointIndex: Int { cusum.state.lastZeroIndex }

    public mutating func update(score: Int) -> CUSUMDecision {
        precondition((1...5).contains(score))
        return cusum.step(units: design.scoreUnits[score - 1])
    }

    public mutating func reset() { cusum.reset() }

    /// The ARL from S = 0 when scores follow `probabilities` (of 1...5), by Brook-Evans.
    public func averageRunLength(probabilities: [Double]) -> Double {
        CUSUMThreshold.averageRunLength(steps: design.steps(probabilities: probabilities),
                                        thresholdUnits: design.thresholdUnits)
    }
}
