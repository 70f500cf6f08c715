import Foundation

/// A one-sided always-valid test that a new version's typical value (latency or cost per call)
/// is higher than the previous version's, on log values, as the series monitors watch them
/// (upward only: faster or cheaper is no regression).
///
/// With y the log of a value, taken as normal with the previous version's spread sigma, each
/// term exp(theta S_n / sigma^2 - n theta^2 / (2 sigma^2)), S_n = sum (y_i - m), is a
/// nonnegative supermartingale while the new mean of logs is at most m: a mixture SPRT over
/// shifts theta = {1, 3/2, 2} x ln(1.25) (a value 25% higher is the smallest rise that matters,
/// `DetectionSettings.minRatio`), valid by Ville's inequality however often it is checked. No
/// shift below ln(1.25): latency comes in busy and quiet stretches, and a test tuned for small
/// rises would take a busy hour after a deploy for one.
/// m is the old mean's upper confidence bound (z standard errors above), as for `DriftSPRT`;
/// each log is clipped to m +- 4 sigma, so one wild outlier cannot decide the test alone.
public struct LogValueDriftTest: Codable, Sendable, Equatable {
    /// The old version's mean of logs and its upper bound.
    public let oldMean: Double
    public let referenceMean: Double
    public let sigma: Double
    public let shifts: [Double]
    public let alpha: Double
    public private(set) var samples = 0
    /// Sum of (clipped log - referenceMean).
    public private(set) var excess = 0.0
    public private(set) var logSum = 0.0
    public private(set) var drifted = false

    /// nil while the old version has fewer than `minSamples` values.
    public init?(old: LogValueBaseline, alpha: Double, minSamples: Int, z: Double, minRatio: Double = DetectionSettings.minRatio) {
        guard old.samples >= max(2, minSamples), alpha > 0, alpha < 1, minRatio > 1 else { return nil }
        oldMean = old.mean
        // A spread of at least 5% keeps a series of identical values (a fixed price) from
        // making any rise look infinitely significant.
        sigma = max(0.05, old.standardDeviation)
        referenceMean = old.mean + z * sigma / Double(old.samples).squareRoot()
        shifts = [1, 1.5, 2].map { $0 * log(minRatio) }
        self.alpha = alpha
    }

    /// ln of the mixture likelihood ratio.
    public var logStatistic: Double {
        let n = Double(samples), variance = sigma * sigma
        let terms = shifts.map { theta in theta * excess / variance - n * theta * theta / (2 * variance) }
        let top = terms.max() ?? 0
        return top + log(terms.reduce(0) { $0 + exp($1 - top) } / Double(terms.count))
    }

    public var logThreshold: Double { -log(alpha) }
    /// The typical (geometric-mean) value of the old and the new version.
    public var oldTypical: Double { exp(oldMean) }
    public var newTypical: Double { samples == 0 ? .nan : exp(logSum / Double(samples)) }

    /// Feeds one positive value; true once the new version is shown higher (terminal).
    public mutating func update(value: Double) -> Bool {
        guard !drifted, value > 0, value.isFinite else { return drifted }
        let y = log(value)
        samples += 1
        logSum += y
        excess += min(4 * sigma, max(-4 * sigma, y - referenceMean))
        if logStatistic >= logThreshold { drifted = true }
        return drifted
    }
}
