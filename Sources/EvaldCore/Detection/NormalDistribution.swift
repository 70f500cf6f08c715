import Foundation

/// The standard normal distribution function, Phi(x) = erfc(-x / sqrt 2) / 2 (accurate in
/// both tails, unlike 1 - erfc).
enum NormalDistribution {
    static func cdf(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }
}
