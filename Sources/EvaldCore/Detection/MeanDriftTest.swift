import Foundation

/// A one-sided always-valid test that a new provider version's mean 1-5 judge score is below
/// the previous version's (drift "on a pass rate or mean score").
///
/// Scores are bounded, so no distribution needs assuming: with Y = (score - 1) / 4 in [0, 1] and
/// m the old mean on that scale, each K_n(lambda) = prod (1 + lambda (m - Y_i)) with
/// 0 <= lambda <= 1 / (1 - m) is nonnegative, and its one-step mean 1 + lambda (m - E[Y]) is at
/// most 1 whenever the new mean is at least m: a nonnegative supermartingale under "not worse",
/// as is any average of them. By Ville's inequality, P(sup_n average >= 1/alpha) <= alpha
/// however often it is checked (testing by betting: Shafer 2021; Waudby-Smith and Ramdas 2023).
/// A grid of lambdas lets one test be quick on a large drop and still find a small one.
///
/// m is the old mean's lower confidence bound (z standard errors below), so an old mean that
/// came out high by chance does not make an equal version look worse; the false-alert
/// probability is then at most alpha plus the chance the bound is too high, as for `DriftSPRT`.
public struct MeanDriftTest: Codable, Sendable, Equatable {
    public let oldMean: Double
    /// The old mean's lower bound, on the 1-5 scale.
    public let referenceMean: Double
    public let alpha: Double
    public let lambdas: [Double]
    public private(set) var logWealth: [Double]
    public private(set) var samples = 0
    public private(set) var scoreSum = 0.0
    public private(set) var drifted = false

    /// nil while the old version has fewer than `minSamples` scores.
    public init?(oldScores: ScoreBaseline, alpha: Double, minSamples: Int, z: Double) {
        guard oldScores.samples >= max(1, minSamples), alpha > 0, alpha < 1 else { return nil }
        oldMean = oldScores.mean
        referenceMean = max(1, oldScores.mean - z * oldScores.standardDeviation / Double(oldScores.samples).squareRoot())
        let m = min(0.999, max(0.001, (referenceMean - 1) / 4))
        lambdas = [0.05, 0.1, 0.2, 0.4, 0.8].map { $0 / (1 - m) }
        logWealth = Array(repeating: 0, count: lambdas.count)
        self.alpha = alpha
    }

    private var m: Double { min(0.999, max(0.001, (referenceMean - 1) / 4)) }

    /// ln of the averaged wealth.
    public var logStatistic: Double {
        let top = logWealth.max() ?? 0
        return top + log(logWealth.reduce(0) { $0 + exp($1 - top) } / Double(logWealth.count))
    }

    public var logThreshold: Double { -log(alpha) }
    public var newMean: Double { samples == 0 ? .nan : scoreSum / Double(samples) }

    /// Feeds one 1-5 score; true once the new version is shown worse (terminal).
    public mutating func update(score: Int) -> Bool {
        guard !drifted, (1...5).contains(score) else { return drifted }
        samples += 1
        scoreSum += Double(score)
        let y = Double(score - 1) / 4
        let reference = m
        for j in lambdas.indices {
            logWealth[j] += log(max(1e-300, 1 + lambdas[j] * (reference - y)))
        }
        if logStatistic >= logThreshold { drifted = true }
        return drifted
    }
}
