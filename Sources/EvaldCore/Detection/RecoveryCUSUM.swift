import Foundation

/// Hysteresis for a pass-rate alert: after it fires, a CUSUM toward the baseline resolves it.
///
/// It tests "recovered" (fail rate q0, the frozen baseline) against "still down" (q0 +
/// min_drop): S = max(0, S + llr) with llr = ln((1-q0)/(1-qd)) on a pass and ln(q0/qd) on a
/// fail (Page 1954 with the roles of the hypotheses swapped). Its threshold makes the ARL at
/// qd at least `falseResolveEvery` samples (a series still min_drop below
/// baseline resolves falsely less than once per 100,000 samples), by the Brook-Evans chain.
/// The cost is the delay after a full recovery, about 600 samples at p0 = 0.90 (the
/// information bound ln(1e5)/KL is not far below: KL(0.10 || 0.15) = 0.011 nats a sample).
/// It never resolves before `resolveSamples` samples after firing, so an alert cannot flap.
public struct RecoveryCUSUM: Sendable, Equatable {
    public struct Design: Codable, Sendable, Equatable {
        public var baselineFailRate: Double
        public var stillDownFailRate: Double
        public var falseResolveEvery: Double
        public var resolveSamples: Int
        public var unit: Double
        public var passUnits: Int
        public var failUnits: Int
        public var thresholdUnits: Int

        public var threshold: Double { Double(thresholdUnits) * unit }

        public func steps(failRate q: Double) -> [LatticeStep] {
            [LatticeStep(units: failUnits, probability: q), LatticeStep(units: passUnits, probability: 1 - q)]
        }
    }

    public let design: Design
    private var cusum: LatticeCUSUM

    public init(
        baseline: PassRateBaseline, minDrop: Double, resolveSamples: Int,
        falseResolveEvery: Double = 100_000, state: CUSUMState = CUSUMState()
    ) throws {
        let q0 = baseline.failRate
        let qd = min(0.999, q0 + minDrop)
        guard qd > q0 else {
            throw CUSUMThreshold.Problem(description: "baseline fail rate \(q0) leaves no room for a drop of \(minDrop)")
        }
        let onPass = log((1 - q0) / (1 - qd))
        let onFail = log(q0 / qd)
        let unit = CUSUMThreshold.unit(for: [onPass, onFail])
        var design = Design(
            baselineFailRate: q0, stillDownFailRate: qd, falseResolveEvery: falseResolveEvery,
            resolveSamples: resolveSamples, unit: unit,
            passUnits: Int((onPass / unit).rounded()), failUnits: Int((onFail / unit).rounded()),
            thresholdUnits: 1)
        design.thresholdUnits = try CUSUMThreshold.thresholdUnits(
            steps: design.steps(failRate: qd),
            targetARL: falseResolveEvery)
        self.init(design: design, state: state)
    }

    public init(design: Design, state: CUSUMState = CUSUMState()) {
        self.design = design
        self.cusum = LatticeCUSUM(unit: design.unit, thresholdUnits: design.thresholdUnits, state: state)
    }

    public var state: CUSUMState { cusum.state }
    /// Samples fed since the alert fired.
    public var samplesSinceFiring: Int { cusum.state.samplesSeen }

    /// True once the alert may resolve: the recovery CUSUM crossed and at least
    /// `resolveSamples` samples came in since firing.
    public mutating func update(failed: Bool) -> Bool {
        let decision = cusum.step(units: failed ? design.failUnits : design.passUnits)
        return decision.isAlarm && cusum.state.samplesSeen >= design.resolveSamples
    }

    /// The ARL to resolution from firing when the true fail rate is `failRate` (Brook-Evans,
    /// ignoring the `resolveSamples` floor).
    public func averageRunLength(failRate: Double) -> Double {
        CUSUMThreshold.averageRunLength(steps: design.steps(failRate: failRate), thresholdUnits: design.thresholdUnits)
    }
}
