import Foundation

/// What one side of a replayed pair scored: per metric (`check:NAME`, `judge:NAME`), whether
/// it passed, and for judges on a 1-5 scale the score. A metric that did not apply, or whose
/// judge failed, is absent: that pair does not count for it.
public struct ReplayScores: Codable, Sendable, Equatable {
    public var passed: [String: Bool]
    public var scores: [String: Double]

    public init(passed: [String: Bool] = [:], scores: [String: Double] = [:]) {
        self.passed = passed
        self.scores = scores
    }
}

/// The same production input answered twice: by production (as stored) and by the candidate.
public struct ReplayPair: Sendable, Equatable {
    public var evaluationID: Int64
    public var production: ReplayScores
    public var candidate: ReplayScores

    public init(evaluationID: Int64, production: ReplayScores, candidate: ReplayScores) {
        self.evaluationID = evaluationID
        self.production = production
        self.candidate = candidate
    }

    /// What the candidate lost on this input: each metric production passed and the candidate
    /// failed, then (marked "(score)") each 1-5 score that fell by a point or more.
    public var lostMetrics: [String] {
        production.passed.keys.sorted().filter { production.passed[$0] == true && candidate.passed[$0] == false }
            + production.scores.keys.sorted().filter { metric in
                guard let before = production.scores[metric], let after = candidate.scores[metric] else { return false }
                return after <= before - 1
            }.map { "\($0) (score)" }
    }
}

public enum ReplayVerdict: String, Codable, Sendable {
    case worse, better, equivalent, undecided
}

public enum ReplayMeasure: String, Codable, Sendable {
    case passRate = "pass_rate"
    case meanScore = "mean_score"
}

/// One metric compared over the pairs where both sides have it.
public struct ReplayMetricComparison: Sendable, Equatable {
    public var metric: String
    public var measure: ReplayMeasure
    public var n: Int
    /// Pass rates, or mean scores.
    public var production: Double
    public var candidate: Double
    /// candidate - production, with its 95% interval.
    public var difference: Double
    public var ciLow: Double
    public var ciHigh: Double
    /// Two-sided: McNemar's test for pass rates (exact up to 100 discordant pairs), the paired t
    /// test for scores.
    public var pValue: Double
    /// Pass rates: pairs production passed and the candidate failed (lost), and the reverse (won).
    public var lost: Int
    public var won: Int
    public var verdict: ReplayVerdict
}

/// Paired statistics for replay: the same input under production and under a candidate.
/// Pairing removes the variation between inputs, so a drop shows in far fewer samples than
/// two independent samples would need (`Benchmarks/RESULTS.md` has the simulation).
public enum PairedComparison {
    public static let confidence = 0.95
    /// Above this many discordant pairs McNemar's test is taken in its chi-square form.
    public static let exactUpTo = 100

    /// Every metric present in the pairs, in name order (pass rates before mean scores).
    /// `minDrop` is the smallest change in a pass rate that matters; for 1-5 mean scores it is
    /// `2 * minDrop` points, as in detection.
    public static func compare(_ pairs: [ReplayPair], minDrop: Double) -> [ReplayMetricComparison] {
        var rateMetrics = Set<String>(), scoreMetrics = Set<String>()
        for pair in pairs {
            rateMetrics.formUnion(pair.production.passed.keys)
            scoreMetrics.formUnion(pair.production.scores.keys)
        }
        var out: [ReplayMetricComparison] = []
        for metric in rateMetrics.sorted() {
            let both = pairs.compactMap { pair -> (Bool, Bool)? in
                guard let p = pair.production.passed[metric], let c = pair.candidate.passed[metric] else { return nil }
                return (p, c)
            }
            guard !both.isEmpty else { continue }
            out.append(passRates(metric: metric, both, minDrop: minDrop))
        }
        for metric in scoreMetrics.sorted() {
            let both = pairs.compactMap { pair -> (Double, Double)? in
                guard let p = pair.production.scores[metric], let c = pair.candidate.scores[metric] else { return nil }
                return (p, c)
            }
            guard !both.isEmpty else { continue }
            out.append(meanScores(metric: metric, both, margin: 2 * minDrop))
        }
        return out
    }

    static func passRates(metric: String, _ pairs: [(production: Bool, candidate: Bool)], minDrop: Double) -> ReplayMetricComparison {
        let n = pairs.count
        let lost = pairs.count { $0.production && !$0.candidate }
        let won = pairs.count { !$0.production && $0.candidate }
        let production = Double(pairs.count(where: \.production)) / Double(n)
        let candidate = Double(pairs.count(where: \.candidate)) / Double(n)
        let interval = pairedRateInterval(n: n, lost: lost, won: won)
        let p = lost + won <= exactUpTo ? mcNemarExact(lost: lost, won: won) : mcNemarAsymptotic(lost: lost, won: won).p
        return ReplayMetricComparison(
            metric: metric, measure: .passRate, n: n, production: production, candidate: candidate,
            difference: candidate - production, ciLow: interval.low, ciHigh: interval.high, pValue: p,
            lost: lost, won: won,
            verdict: verdict(difference: candidate - production, low: interval.low, high: interval.high, significant: p < 1 - confidence, margin: minDrop))
    }

    static func meanScores(metric: String, _ pairs: [(production: Double, candidate: Double)], margin: Double) -> ReplayMetricComparison {
        let n = pairs.count
        let production = pairs.map(\.production).reduce(0, +) / Double(n)
        let candidate = pairs.map(\.candidate).reduce(0, +) / Double(n)
        let test = pairedMeanDifference(pairs.map { $0.candidate - $0.production })
        return ReplayMetricComparison(
            metric: metric, measure: .meanScore, n: n, production: production, candidate: candidate,
            difference: candidate - production, ciLow: test.low, ciHigh: test.high, pValue: test.p,
            lost: pairs.count { $0.candidate < $0.production }, won: pairs.count { $0.candidate > $0.production },
            verdict: verdict(difference: candidate - production, low: test.low, high: test.high, significant: test.p < 1 - confidence, margin: margin))
    }

    /// Worse or better: a significant change of at least `margin`. Equivalent: the interval lies
    /// within plus or minus `margin`. Otherwise the pairs cannot tell yet.
    public static func verdict(difference: Double, low: Double, high: Double, significant: Bool, margin: Double) -> ReplayVerdict {
        if significant, high < 0, difference <= -margin { return .worse }
        if significant, low > 0, difference >= margin { return .better }
        if low > -margin, high < margin { return .equivalent }
        return .undecided
    }

    /// McNemar's exact test: under no change each discordant pair is lost or won with
    /// probability 1/2, so the two-sided p is twice the binomial tail of the smaller count.
    public static func mcNemarExact(lost: Int, won: Int) -> Double {
        let discordant = lost + won
        guard discordant > 0 else { return 1 }
        let smaller = min(lost, won)
        var tail = 0.0
        for k in 0...smaller {
            tail += exp(logChoose(discordant, k) - Double(discordant) * log(2.0))
        }
        return min(1, 2 * tail)
    }

    /// McNemar's chi-square with Edwards' continuity correction, (|b - c| - 1)^2 / (b + c), on
    /// one degree of freedom.
    public static func mcNemarAsymptotic(lost: Int, won: Int) -> (chiSquare: Double, p: Double) {
        let discordant = Double(lost + won)
        guard discordant > 0 else { return (0, 1) }
        let statistic = pow(max(0, abs(Double(lost - won)) - 1), 2) / discordant
        return (statistic, erfc(sqrt(statistic / 2)))
    }

    /// The 95% interval of candidate - production for paired pass rates: Wald on the table with
    /// 1/2 added to each of its four cells (Agresti and Min 2005), which keeps its coverage
    /// when no pair disagrees or n is small.
    public static func pairedRateInterval(n: Int, lost: Int, won: Int) -> (low: Double, high: Double) {
        let size = Double(n) + 2
        let b = Double(lost) + 0.5, c = Double(won) + 0.5
        let difference = (c - b) / size
        let variance = ((b + c) - (c - b) * (c - b) / size) / (size * size)
        let half = 1.959963984540054 * sqrt(max(0, variance))
        return (max(-1, difference - half), min(1, difference + half))
    }

    /// The paired t test on the differences: mean, 95% interval and two-sided p. One pseudo-pair
    /// each way at one scale point keeps a run of identical scores on few inputs from claiming
    /// an interval of zero width.
    public static func pairedMeanDifference(_ differences: [Double]) -> (mean: Double, low: Double, high: Double, p: Double) {
        let n = differences.count
        guard n > 0 else { return (0, -.infinity, .infinity, 1) }
        let mean = differences.reduce(0, +) / Double(n)
        let shrunk = differences + [mean + 1, mean - 1]
        let m = Double(shrunk.count)
        let variance = shrunk.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (m - 1)
        let standardError = sqrt(variance / Double(n))
        let degrees = max(1, n - 1)
        let half = studentT975(degrees) * standardError
        let t = standardError > 0 ? abs(mean) / standardError : 0
        return (mean, mean - half, mean + half, twoSidedStudentP(t, degrees: degrees))
    }

    /// The 97.5% quantile of Student's t: the table below 30 degrees of freedom, the
    /// Cornish-Fisher expansion above (error under 1e-4 there).
    static func studentT975(_ degrees: Int) -> Double {
        let table = [
            12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
            2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045,
        ]
        if degrees < 30 { return table[max(1, degrees) - 1] }
        let z = 1.959963984540054, v = Double(degrees)
        let z3: Double = z * z * z, z5: Double = z3 * z * z
        let first: Double = (z3 + z) / (4 * v)
        let second: Double = (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v)
        return z + first + second
    }

    /// Two-sided p of |T| >= t, T ~ Student t(degrees), from the regularised incomplete beta
    /// function: p = I_{v/(v+t^2)}(v/2, 1/2).
    static func twoSidedStudentP(_ t: Double, degrees: Int) -> Double {
        guard t > 0 else { return 1 }
        let v = Double(degrees)
        return min(1, max(0, regularizedBeta(v / (v + t * t), v / 2, 0.5)))
    }

    /// I_x(a, b) by its continued fraction (Numerical Recipes, betacf), using the symmetry
    /// I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly.
    static func regularizedBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logGammas: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let logPowers: Double = a * log(x) + b * log(1 - x)
        let front = exp(logGammas + logPowers)
        if x < (a + 1) / (a + b + 2) { return front * betaFraction(x, a, b) / a }
        return 1 - front * betaFraction(1 - x, b, a) / b
    }

    private static func betaFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...300 {
            let m = Double(m)
            let even: Double = (a + 2 * m - 1) * (a + 2 * m)
            var numerator: Double = m * (b - m) * x / even
            d = 1 + numerator * d
            if abs(d) < tiny { d = tiny }
            c = 1 + numerator / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            let odd: Double = (a + 2 * m) * (a + 2 * m + 1)
            numerator = -(a + m) * (a + b + m) * x / odd
            d = 1 + numerator * d
            if abs(d) < tiny { d = tiny }
            c = 1 + numerator / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            h *= step
            if abs(step - 1) < 3e-16 { break }
        }
        return h
    }

    static func logChoose(_ n: Int, _ k: Int) -> Double {
        lgamma(Double(n) + 1) - lgamma(Double(k) + 1) - lgamma(Double(n - k) + 1)
    }
}
