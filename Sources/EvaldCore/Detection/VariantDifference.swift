import Foundation

/// Running sums of one arm of a side-by-side comparison: outcomes (1 pass, 0 fail) or scores.
public struct ArmTally: Codable, Sendable, Equatable {
    public var n = 0
    public var sum = 0.0
    public var sumOfSquares = 0.0

    public init() {}

    public init(n: Int, sum: Double, sumOfSquares: Double) {
        self.n = n
        self.sum = sum
        self.sumOfSquares = sumOfSquares
    }

    /// A pass/fail tally: a pass is 1, so the sum of squares is the passes.
    public init(passes: Int, n: Int) {
        self.init(n: n, sum: Double(passes), sumOfSquares: Double(passes))
    }

    public mutating func add(_ value: Double) {
        n += 1
        sum += value
        sumOfSquares += value * value
    }

    public var mean: Double { n == 0 ? .nan : sum / Double(n) }

    /// The variance, shrunk towards `prior` with the weight of one sample, so that an arm with
    /// no spread yet (all passes) does not claim a zero variance.
    func variance(prior: Double) -> Double {
        guard n > 0 else { return prior }
        let m = sum / Double(n)
        let biased = max(0, sumOfSquares / Double(n) - m * m)
        return (Double(n) * biased + prior) / Double(n + 1)
    }
}

/// The difference of two means (a variant's pass rate or mean score minus the incumbent's)
/// with an anytime-valid confidence interval: a confidence sequence, so it may be looked at
/// after every sample and still covers the true difference at every look with probability at
/// least 1 - alpha.
///
/// The boundary is Robbins' normal mixture in information time (the asymptotic confidence
/// sequences of Waudby-Smith, Arnold, Wu, Howard and Ramdas 2021, "Time-uniform central limit
/// theory"): with the estimate's variance v = s1^2/n1 + s2^2/n2 and information I = 1/v,
///
///     |difference - true difference| <= sqrt( 2 (I rho^2 + 1) / (I^2 rho^2) * ln( sqrt(I rho^2 + 1) / alpha ) ).
///
/// For one arm (I = n / sigma^2) this is their Theorem 2.2; two independent arms are one
/// Gaussian martingale in information time. rho is tuned so that the boundary is tightest
/// where the interval's half-width reaches about `minDrop` / 2 (Howard et al. 2021, eq. 3.2,
/// with the "tuned at t*" choice rho^2 = (2 ln(1/alpha) + ln(2 ln(1/alpha) + 1)) / I*). Variances
/// are plug-in, shrunk towards the widest the scale allows, so the guarantee is asymptotic: the
/// seeded simulations in the tests check it at small samples.
public struct VariantDifference: Sendable, Equatable {
    public enum Verdict: String, Sendable, Codable {
        /// The interval lies below zero and the estimate is at least `minDrop` down.
        case worse
        /// The interval lies above zero and the estimate is at least `minDrop` up.
        case better
        /// The interval lies within (-minDrop, +minDrop).
        case equivalent
        case undecided
    }

    public var difference: Double
    public var low: Double
    public var high: Double
    public var verdict: Verdict

    /// Samples each arm needs before an interval is given: the plug-in variance needs a few.
    public static let minSamples = 20

    /// nil until both arms have `minSamples`. `widestVariance` is the largest variance the
    /// scale allows ((max - min)^2 / 4: 0.25 for pass/fail, 4 for 1-5 scores).
    public static func compare(
        incumbent: ArmTally, variant: ArmTally, alpha: Double, minDrop: Double, widestVariance: Double
    ) -> VariantDifference? {
        guard incumbent.n >= minSamples, variant.n >= minSamples, alpha > 0, alpha < 1, minDrop > 0 else { return nil }
        let v = incumbent.variance(prior: widestVariance) / Double(incumbent.n) + variant.variance(prior: widestVariance) / Double(variant.n)
        let difference = variant.mean - incumbent.mean
        let half = halfWidth(information: 1 / max(v, 1e-12), alpha: alpha, minDrop: minDrop)
        let low = difference - half, high = difference + half
        let verdict: Verdict =
            if high < 0 && difference <= -minDrop {
                .worse
            } else if low > 0 && difference >= minDrop {
                .better
            } else if low > -minDrop && high < minDrop {
                .equivalent
            } else {
                .undecided
            }
        return VariantDifference(difference: difference, low: low, high: high, verdict: verdict)
    }

    /// The confidence sequence's half-width at information `information`.
    public static func halfWidth(information: Double, alpha: Double, minDrop: Double) -> Double {
        let l = log(1 / alpha)
        // Tuned where a fixed-sample interval would be +-minDrop/2: I* = 8 ln(1/alpha) / minDrop^2.
        let target = 8 * l / (minDrop * minDrop)
        let rho2 = (2 * l + log(2 * l + 1)) / target
        let a = information * rho2 + 1
        return (2 * a / (information * information * rho2) * log(a.squareRoot() / alpha)).squareRoot()
    }
}
