import Foundation

/// A one-sided Bernoulli CUSUM (Page 1954) on a pass-rate series, watching the fail
/// indicator: S = max(0, S + llr) with llr = ln(q1/q0) on a fail and ln((1-q1)/(1-q0)) on a
/// pass, an alarm at S >= h.
///
/// Design (why q1 = q0 + 2 x min_drop): the CUSUM is optimal for the change it is designed
/// for (Moustakides 1986; Lorden 1971) and stays close to optimal for changes between about
/// half and twice that. Designing for 2 x min_drop covers drops from min_drop to 4 x min_drop,
/// the benchmark's 0.85 / 0.80 / 0.70 from 0.90; at p0 = 0.90 it is exactly the classic "doubled
/// fail rate" CUSUM (+ln 2 on a fail, -0.118 on a pass), which stays within 20% of the
/// optimum for all three drops, while a design at q0 + min_drop is slow on large drops.
/// Unlike "double the fail rate" it stays meaningful at any p0 (at p0 = 0.99 doubling would
/// chase a 0.01 drop, at p0 = 0.6 an impossible one).
///
/// The threshold comes from the in-control ARL target by the Brook-Evans chain
/// (`CUSUMThreshold`), averaged over the uncertainty of the baseline (`BaselineGuard`).
public struct BernoulliCUSUM: Sendable, Equatable {
    public struct Design: Codable, Sendable, Equatable {
        /// q0: the baseline fail rate the increments are built on.
        public var baselineFailRate: Double
        /// The standard deviation of the true fail rate around q0 that the threshold allows
        /// for (`BaselineGuard`); 0 without a guard.
        public var calibrationSpread: Double
        /// q1: the fail rate the increments are tuned to detect.
        public var alternativeFailRate: Double
        public var targetARL: Double
        public var unit: Double
        public var failUnits: Int
        public var passUnits: Int
        public var thresholdUnits: Int

        public var threshold: Double { Double(thresholdUnits) * unit }

        public func steps(failRate q: Double) -> [LatticeStep] {
            [LatticeStep(units: failUnits, probability: q), LatticeStep(units: passUnits, probability: 1 - q)]
        }
    }

    public let design: Design
    private var cusum: LatticeCUSUM

    /// - Parameters:
    ///   - baseline: the series' own history (check `isReady(minSamples:)` first).
    ///   - minDrop: `detection.min_drop`, absolute on the pass rate.
    ///   - targetARL: from `DetectionBudget.targetARL`.
    ///   - designShiftMultiplier: q1 = q0 + multiplier x minDrop (2, see above).
    public init(
        baseline: PassRateBaseline, minDrop: Double, targetARL: Double,
        guard margin: BaselineGuard, designShiftMultiplier: Double = 2,
        state: CUSUMState = CUSUMState()
    ) throws {
        let q0 = baseline.failRate
        let q1 = min(0.999, q0 + designShiftMultiplier * minDrop)
        guard q1 > q0 else {
            throw CUSUMThreshold.Problem(description: "baseline fail rate \(q0) leaves no room for a drop of \(minDrop)")
        }
        let onFail = log(q1 / q0)
        let onPass = log((1 - q1) / (1 - q0))
        let unit = CUSUMThreshold.unit(for: [onFail, onPass])
        // The guard's outermost node (2.86 spreads up) stays at most half way to the fail rate
        // where the increments stop drifting down: past it a CUSUM rises without a change, its
        // run length grows only polynomially, and no threshold would meet a large target. A
        // baseline too small to place q0 that finely gets the widest margin, not an endless one.
        let zeroDrift = -onPass / (onFail - onPass)
        let spread = min(margin.spread(baseline), max(0, zeroDrift - q0) / 2 / BaselineGuard.outermostNode)
        var design = Design(
            baselineFailRate: q0, calibrationSpread: spread, alternativeFailRate: q1,
            targetARL: targetARL, unit: unit,
            failUnits: Int((onFail / unit).rounded()),
            passUnits: Int((onPass / unit).rounded()), thresholdUnits: 1)
        guard design.failUnits > 0 else {
            throw CUSUMThreshold.Problem(description: "the CUSUM can never rise under this distribution; no threshold is needed")
        }
        let points = margin.calibrationPoints(center: q0, spread: spread)
        let stepSets = points.map { design.steps(failRate: $0.failRate) }
        let curves = zip(stepSets, points).map { (RunLengthCurve(steps: $0.0), $0.1.weight) }
        design.thresholdUnits = try CUSUMThreshold.thresholdUnits(curves: curves, targetARL: targetARL)
        self.init(design: design, state: state)
    }

    /// Resumes a persisted detector exactly (store the design with the state).
    public init(design: Design, state: CUSUMState = CUSUMState()) {
        self.design = design
        self.cusum = LatticeCUSUM(unit: design.unit, thresholdUnits: design.thresholdUnits, state: state)
    }

    public var state: CUSUMState { cusum.state }
    public var statistic: Double { cusum.state.statistic }
    public var threshold: Double { design.threshold }
    /// The estimated first changed sample (the last time S was 0).
    public var changePointIndex: Int { cusum.state.lastZeroIndex }

    public mutating func update(failed: Bool) -> CUSUMDecision {
        cusum.step(units: failed ? design.failUnits : design.passUnits)
    }

    public mutating func reset() { cusum.reset() }

    /// The ARL from S = 0 when the true fail rate is `failRate` (Brook-Evans): the in-control
    /// run length at the baseline, or the worst-case detection delay after a drop.
    public func averageRunLength(failRate: Double) -> Double {
        CUSUMThreshold.averageRunLength(steps: design.steps(failRate: failRate), thresholdUnits: design.thresholdUnits)
    }
}
