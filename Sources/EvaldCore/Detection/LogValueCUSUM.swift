import Foundation

/// An upward CUSUM on log latency or log cost per call (Page 1954), against the baseline
/// mean and standard deviation of log values: z = (ln x - mu) / sigma,
/// S = max(0, S + clamp(z, -cap, cap) - k), k = half the design shift (twice ln(minRatio)) in
/// baseline standard deviations.
///
/// Log values because latency and cost are multiplicative and right-skewed; one-sided
/// because only getting slower or dearer pages. z is winsorized at +-`cap` (3 sd) as in the
/// robust CUSUM of Lucas and Crosier (1982): one pathological call cannot fire the alarm on
/// its own, the threshold below stays honest for tails heavier than normal, and the
/// clamped increments take finitely many lattice values, so the chain is exact for the model.
/// The threshold is set by Brook-Evans (1972) on the normal model of the log values,
/// discretized on the detector's own lattice (observations are rounded to it too).
public struct LogValueCUSUM: Sendable, Equatable {
    public struct Design: Codable, Sendable, Equatable {
        public var baselineMean: Double
        public var baselineStandardDeviation: Double
        public var referenceValue: Double
        public var cap: Double
        public var targetARL: Double
        public var unit: Double
        public var thresholdUnits: Int

        public var threshold: Double { Double(thresholdUnits) * unit }

        /// The lattice increments when log values are normal with mean shifted by `shift`
        /// baseline standard deviations.
        public func steps(shift: Double) -> [LatticeStep] {
            let low = Int(((-cap - referenceValue) / unit).rounded())
            let high = Int(((cap - referenceValue) / unit).rounded())
            var steps: [LatticeStep] = []
            var below = 0.0
            for d in low...high {
                // P(round((clamp(z) - k) / unit) == d), z ~ N(shift, 1).
                let upper = d == high ? 1 : NormalDistribution.cdf((Double(d) + 0.5) * unit + referenceValue - shift)
                let p = upper - below
                below = upper
                if p > 0 { steps.append(LatticeStep(units: d, probability: p)) }
            }
            return steps
        }

        func units(forLogValue x: Double) -> Int {
            let z = min(max((x - baselineMean) / baselineStandardDeviation, -cap), cap)
            return Int(((z - referenceValue) / unit).rounded())
        }
    }

    public let design: Design
    private var cusum: LatticeCUSUM

    /// - Parameter minRatio: the smallest increase that matters, as a ratio (1.25: 25% slower).
    public init(
        baseline: LogValueBaseline, minRatio: Double, targetARL: Double,
        designShiftMultiplier: Double = 2, cap: Double = 3, state: CUSUMState = CUSUMState()
    ) throws {
        guard minRatio > 1 else { throw CUSUMThreshold.Problem(description: "minRatio must be above 1") }
        // sigma is floored at a quarter of ln(minRatio): below it a series is so steady that a
        // rise of minRatio is many standard deviations, and the winsorizing cap below must stay
        // above the reference value or no increment could ever be positive (the detector would
        // never arm, silently). Steadier series are watched as if this noisy: a 25% rise is still
        // found within a handful of samples.
        let sigma = max(baseline.standardDeviation, log(minRatio) / 4)
        let k = designShiftMultiplier * log(minRatio) / sigma / 2
        var design = Design(
            baselineMean: baseline.mean, baselineStandardDeviation: sigma, referenceValue: k,
            cap: max(cap, k + 3), targetARL: targetARL, unit: 0.05, thresholdUnits: 1)
        design.thresholdUnits = try CUSUMThreshold.thresholdUnits(steps: design.steps(shift: 0), targetARL: targetARL)
        self.init(design: design, state: state)
    }

    public init(design: Design, state: CUSUMState = CUSUMState()) {
        self.design = design
        self.cusum = LatticeCUSUM(unit: design.unit, thresholdUnits: design.thresholdUnits, state: state)
    }

    public var state: CUSUMState { cusum.state }
    public var threshold: Double { design.threshold }
    public var changePointIndex: Int { cusum.state.lastZeroIndex }

    /// Feeds one positive value (latency in ms, cost per call); non-positive values are
    /// skipped (quiet).
    public mutating func update(value: Double) -> CUSUMDecision {
        guard value > 0, value.isFinite else { return .quiet }
        return cusum.step(units: design.units(forLogValue: log(value)))
    }

    public mutating func reset() { cusum.reset() }
}
