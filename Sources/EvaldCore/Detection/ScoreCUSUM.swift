import Foundation

/// A standardized one-sided (downward) CUSUM on 1-5 judge scores (Page 1954):
/// S = max(0, S + (mu0 - x) / sigma0 - k), with reference value k = half the design shift in
/// baseline standard deviations (Page 1954), and the design shift 1.5 x `minMeanDrop`. Why
/// 1.5: the Brook-Evans ARLs at the detection benchmark's distribution and ARL 10,000 for mean drops of
/// 0.1 / 0.2 / 0.4 are 618 / 252 / 114 designed at 1x, 667 / 234 / 98 at 1.5x, 770 / 234 / 90
/// at 2x; 1.5x is the best compromise across the range (the pass-rate CUSUM's 2x is
/// justified in `BernoulliCUSUM`).
///
/// Scores are far from normal (skewed, five values), so the normal-theory thresholds would
/// be wrong. The threshold is calibrated on the baseline's own empirical score distribution:
/// the increments take five lattice values, so the Brook-Evans chain over the baseline
/// histogram gives the exact in-control ARL of this detector under that distribution, with
/// no simulation noise and no seed needed. As for pass rates (`BaselineGuard`), the
/// threshold allows for the baseline's own estimation error: the false-alarm rate is averaged
/// over histograms whose mean is off by the standard error of the mean (exponential tilts of
/// the baseline histogram, weighted by 5-point Gauss-Hermite quadrature), so a baseline from
/// a few thousand scores does not fire early when its mean came out a little high.
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
    ///   - estimationGuard: average the calibration over the error of the baseline's mean.
    public init(
        baseline: ScoreBaseline, minMeanDrop: Double, targetARL: Double,
        designShiftMultiplier: Double = 1.5, calibration: [Double]? = nil, estimationGuard: Bool = true,
        state: CUSUMState = CUSUMState()
    ) throws {
        let mean = baseline.mean
        // A floor on sigma: a baseline of all 5s has sd 0, which would make every lower
        // score an infinite step.
        let sigma = max(baseline.standardDeviation, 0.25)
        let k = designShiftMultiplier * minMeanDrop / sigma / 2
        let increments = (1...5).map { (mean - Double($0)) / sigma - k }
        let unit = CUSUMThreshold.unit(for: increments, resolution: 10, maxSpan: 100)
        var design = Design(
            baselineMean: mean, baselineStandardDeviation: sigma, referenceValue: k,
            targetARL: targetARL, unit: unit,
            scoreUnits: increments.map { Int(($0 / unit).rounded()) }, thresholdUnits: 1)
        let center = calibration ?? baseline.probabilities
        // The outermost tilt stays at most half way to the mean where the increments stop drifting
        // down (k sigma below the baseline), as for pass rates (`BernoulliCUSUM`).
        let standardError =
            estimationGuard && baseline.samples > 0
            ? min(sigma / Double(baseline.samples).squareRoot(), k * sigma / 2 / BaselineGuard.outermostNode) : 0
        let calibrations = BaselineGuard.nodes.map {
            (Self.tilted(center, meanShift: $0.x * standardError), $0.weight)
        }
        guard design.steps(probabilities: center).contains(where: { $0.units > 0 && $0.probability > 0 }) else {
            throw CUSUMThreshold.Problem(description: "the CUSUM can never rise under this distribution; no threshold is needed")
        }
        let stepSets = calibrations.map { design.steps(probabilities: $0.0) }
        let curves = zip(stepSets, calibrations).map { (RunLengthCurve(steps: $0.0), $0.1.1) }
        design.thresholdUnits = try CUSUMThreshold.thresholdUnits(curves: curves, targetARL: targetARL)
        self.init(design: design, state: state)
    }

    /// The exponential tilt p_i e^(theta i) / Z of a score distribution whose mean is
    /// `meanShift` away from the original (the tilt is the distribution closest to the original
    /// in Kullback-Leibler divergence with that mean). The mean of the tilt grows with theta,
    /// so theta is found by bisection, which cannot diverge on the lopsided histograms real
    /// judges produce (nearly all 5s); a mean past what the support allows gets the extreme.
    static func tilted(_ p: [Double], meanShift: Double) -> [Double] {
        guard meanShift != 0, p.contains(where: { $0 > 0 }) else { return p }
        func tilt(_ theta: Double) -> [Double] {
            let logs = zip(1...5, p).map { $0.1 > 0 ? log($0.1) + theta * Double($0.0) : -Double.infinity }
            let top = logs.max()!
            let raw = logs.map { exp($0 - top) }
            let z = raw.reduce(0, +)
            return raw.map { $0 / z }
        }
        func mean(_ q: [Double]) -> Double { zip(1...5, q).reduce(0) { $0 + Double($1.0) * $1.1 } }
        let target = mean(p) + meanShift
        var (low, high) = (-60.0, 60.0)
        for _ in 0..<100 {
            let mid = (low + high) / 2
            if mean(tilt(mid)) < target { low = mid } else { high = mid }
        }
        return tilt((low + high) / 2)
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
        CUSUMThreshold.averageRunLength(
            steps: design.steps(probabilities: probabilities),
            thresholdUnits: design.thresholdUnits)
    }
}
