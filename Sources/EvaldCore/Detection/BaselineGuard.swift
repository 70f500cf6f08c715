/// The margin a pass-rate detector keeps against a baseline that is a little off.
///
/// The true in-control fail rate q is not the estimate q0: the estimate has a standard error
/// sqrt(q0 (1-q0) / n) (about 0.0095 at p = 0.9 from 1,000 samples), and real series wander
/// from hour to hour (the detection benchmark simulates sd 0.01). The false-alarm rate 1/ARL(q) grows about
/// exponentially in q, so errors upward cost far more than errors downward save: without a
/// guard, a true rate only 0.005 worse than the estimate already raises the false-alarm
/// rate 1.6-fold (see Benchmarks/RESULTS.md).
///
/// The guard calibrates the threshold so that the false-alarm rate averaged over
/// q ~ N(q0, se^2 + wander^2), E[1 / ARL(q)], meets the budget (a predictive calibration: the
/// margin shrinks as history grows, unlike a fixed offset, and is what a Bayesian with a flat
/// prior on q would expect). The expectation is taken by 5-point Gauss-Hermite quadrature
/// (Abramowitz and Stegun 1964, 25.4.46).
public struct BaselineGuard: Codable, Sendable, Equatable {
    /// Include the baseline's standard error.
    public var estimationError: Bool
    /// The hour-to-hour standard deviation of the fail rate to allow for.
    public var wanderStandardDeviation: Double
    /// When set, `wanderStandardDeviation` holds at this fail rate and scales with the binomial
    /// standard deviation sqrt(q (1 - q)) elsewhere: a series that fails 1 in 2,000 does not
    /// wander by 0.005 an hour (that is 10x its rate), and allowing it would need a threshold
    /// far past any real drop (and a chain of tens of thousands of states to find it).
    public var wanderReferenceFailRate: Double?

    public init(estimationError: Bool, wanderStandardDeviation: Double, wanderReferenceFailRate: Double? = nil) {
        self.estimationError = estimationError
        self.wanderStandardDeviation = wanderStandardDeviation
        self.wanderReferenceFailRate = wanderReferenceFailRate
    }

    /// No margin: calibrate at the point estimate.
    public static let none = BaselineGuard(estimationError: false, wanderStandardDeviation: 0)

    /// The default: the estimation error plus a wander of a tenth of `min_drop` (0.005 at the
    /// default 0.05) for a series failing 10% of the time, scaled like the binomial standard
    /// deviation for others (the same 0.005 at p0 = 0.90, where the benchmark measures it).
    /// Series known to wander more should say so.
    public static func standard(minDrop: Double) -> BaselineGuard {
        BaselineGuard(estimationError: true, wanderStandardDeviation: minDrop / 10, wanderReferenceFailRate: 0.1)
    }

    /// The standard deviation of the true fail rate around the estimate.
    public func spread(_ baseline: PassRateBaseline) -> Double {
        let q = baseline.failRate
        let se2 = estimationError && baseline.samples > 0 ? q * (1 - q) / Double(baseline.samples) : 0
        var wander = wanderStandardDeviation
        if let reference = wanderReferenceFailRate {
            wander *= (q * (1 - q) / (reference * (1 - reference))).squareRoot()
        }
        return (se2 + wander * wander).squareRoot()
    }

    /// The largest node, in spreads.
    static let outermostNode = 2.856970013872806

    /// Probabilists' Gauss-Hermite nodes and weights (5 points; the weights sum to 1).
    static let nodes: [(x: Double, weight: Double)] = [
        (0, 0.533333333333333),
        (1.355626179974266, 0.222075922005613), (-1.355626179974266, 0.222075922005613),
        (2.856970013872806, 0.011257411327721), (-2.856970013872806, 0.011257411327721),
    ]

    /// The fail rates and weights over which the guard averages the false-alarm rate: the
    /// threshold makes 1 / E[1 / ARL(q)] meet the target.
    func calibrationPoints(center: Double, spread: Double) -> [(failRate: Double, weight: Double)] {
        guard spread > 0 else { return [(center, 1)] }
        return Self.nodes.map { (min(0.999, max(1e-6, center + $0.x * spread)), $0.weight) }
    }
}
