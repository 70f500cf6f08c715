import Foundation

/// The standard normal distribution function, Phi(x) = erfc(-x / sqrt 2) / 2 (accurate in
/// both tails, unlike 1 - erfc).
enum NormalDistribution {
    static func cdf(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// Phi^-1(p) by bisection on `cdf` (60 halvings: exact to double precision; called once
    /// per provider switch, so speed does not matter).
    static func quantile(_ p: Double) -> Double {
        var low = -40.0, high = 40.0
        for _ in 0..<60 {
            let mid = (low + high) / 2
            if cdf(mid) < p { low = mid } else { high = mid }
        }
        return (low + high) / 2
    }
}
