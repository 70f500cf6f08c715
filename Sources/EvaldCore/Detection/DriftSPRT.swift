import Foundation

/// A one-sided mixture sequential probability ratio test of a new provider version's fail
/// rate against the previous version's baseline (provider-update drift).
///
/// The statistic is a mixture likelihood ratio (Robbins 1970; the always-valid tests of
/// Johari et al. 2017): Lambda_n = mean over j of prod_i f_{q_j}(x_i) / f_{q_ref}(x_i), with
/// alternatives q_j = q_ref + {1/2, 1, 2, 4} x min_drop, so one test is quick on large drops and
/// still consistent on small ones. Here a discrete mixture of four points replaces the
/// normal or beta mixture: it needs no special functions and keeps the guarantee, because
/// any mixture of likelihood ratios is itself a nonnegative martingale under q_ref.
///
/// Guarantee: under any new fail rate q <= q_ref every term is a nonnegative supermartingale
/// with mean at most 1 (its one-step mean, q q_j / q_ref + (1-q)(1-q_j)/(1-q_ref), grows with
/// q and equals 1 at q_ref), so by Ville's inequality P(sup_n Lambda_n >= 1/alpha) <= alpha,
/// however often it is checked. q_ref is the old fail rate's Wilson upper bound, so the
/// guarantee covers an old rate estimated low; overall P(false alert) <= alpha +
/// P(old rate > its bound), and the second term matters only when the new version is in fact
/// slightly worse.
///
/// "No drift" is the mirror image, so it is always valid too: a mixture SPRT of the new fail
/// rate against q_none = (old rate's Wilson lower bound) + min_drop, with alternatives q_none - {1/2, 1, 3/2} x
/// min_drop, says it once it reaches 1/alpha after at least `minSamples` samples. If the new
/// version really is min_drop worse, it says "no drift" with probability at most alpha, however
/// often it is checked (a fixed-sample confidence bound re-checked after every sample would
/// not keep that promise).
public struct DriftSPRT: Codable, Sendable, Equatable {
    public enum Verdict: String, Codable, Sendable {
        case undecided
        case drift
        case noDrift = "no_drift"
    }

    public let oldFailRate: Double
    public let referenceFailRate: Double
    public let alternatives: [Double]
    public let alpha: Double
    public let minDrop: Double
    public let minSamples: Int
    public let z: Double
    public private(set) var failures = 0
    public private(set) var samples = 0
    /// `drift` is terminal. `noDrift` is not: the statistic stays always valid, so the watch
    /// may go on and still turn to `drift` with the same alpha.
    public private(set) var verdict = Verdict.undecided
    /// ln(q_j / q_ref) and ln((1 - q_j) / (1 - q_ref)) per alternative, kept so an update
    /// costs no logarithms.
    private let logRatioOnFail: [Double]
    private let logRatioOnPass: [Double]
    /// The same for the "no drift" test against old rate + min_drop.
    private let clearRatioOnFail: [Double]
    private let clearRatioOnPass: [Double]

    /// nil while the old version's baseline is under `detection.drift_min_samples`.
    public init?(oldBaseline: PassRateBaseline, alpha: Double, minDrop: Double, minSamples: Int, z: Double = 1.96) {
        guard oldBaseline.samples >= minSamples, alpha > 0, alpha < 1, minDrop > 0 else { return nil }
        oldFailRate = oldBaseline.failRate
        let reference = min(0.99, oldBaseline.failRateUpperBound(z: z))
        referenceFailRate = reference
        let candidates = [0.5, 1, 2, 4].map { reference + $0 * minDrop }.filter { $0 < 0.999 }
        alternatives = candidates.isEmpty ? [(reference + 1) / 2] : candidates
        logRatioOnFail = alternatives.map { log($0 / reference) }
        logRatioOnPass = alternatives.map { log((1 - $0) / (1 - reference)) }
        // The old rate at its lower bound: an old baseline that came out high must not make a
        // min_drop-worse version look acceptable.
        let oldLow =
            WilsonInterval.bounds(passes: Int64(oldBaseline.failures), n: Int64(oldBaseline.samples), z: z)?.low
            ?? oldBaseline.failRate
        let worse = min(0.999, min(oldLow, oldBaseline.failRate) + minDrop)
        let better = [0.5, 1, 1.5].map { worse - $0 * minDrop }.filter { $0 > 0.0005 }
        let clearing = better.isEmpty ? [worse / 2] : better
        clearRatioOnFail = clearing.map { log($0 / worse) }
        clearRatioOnPass = clearing.map { log((1 - $0) / (1 - worse)) }
        self.alpha = alpha
        self.minDrop = minDrop
        self.minSamples = minSamples
        self.z = z
    }

    /// ln Lambda_n.
    public var logLikelihoodRatio: Double {
        Self.logMixture(failures: failures, samples: samples, onFail: logRatioOnFail, onPass: logRatioOnPass)
    }

    /// ln of the "no drift" mixture likelihood ratio.
    public var clearingLogLikelihoodRatio: Double {
        Self.logMixture(failures: failures, samples: samples, onFail: clearRatioOnFail, onPass: clearRatioOnPass)
    }

    static func logMixture(failures: Int, samples: Int, onFail: [Double], onPass: [Double]) -> Double {
        let passes = Double(samples - failures), fails = Double(failures)
        var top = -Double.infinity
        for j in onFail.indices { top = max(top, fails * onFail[j] + passes * onPass[j]) }
        var sum = 0.0
        for j in onFail.indices { sum += exp(fails * onFail[j] + passes * onPass[j] - top) }
        return top + log(sum / Double(onFail.count))
    }

    /// ln(1/alpha).
    public var logThreshold: Double { -log(alpha) }

    /// The new version's fail rate so far.
    public var newFailRate: Double { samples == 0 ? .nan : Double(failures) / Double(samples) }

    public mutating func update(failed: Bool) -> Verdict {
        guard verdict != .drift else { return verdict }
        samples += 1
        if failed { failures += 1 }
        if logLikelihoodRatio >= logThreshold {
            verdict = .drift
        } else if verdict == .undecided, samples >= minSamples, clearingLogLikelihoodRatio >= logThreshold {
            verdict = .noDrift
        }
        return verdict
    }
}
