import Foundation

/// One metric over a golden set (named as everywhere else): `check:NAME` and `judge:NAME` pass rates,
/// `judge:NAME:mean_score` for judges on a numeric scale.
public struct GoldenMetric: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case passRate = "pass_rate"
        case meanScore = "mean_score"
    }

    public var name: String
    public var kind: Kind
    /// Cases scored (a check that does not apply, a judge error: not counted).
    public var n: Int
    /// Pass rates only.
    public var passes: Int?
    /// The pass rate, or the mean score on the judge's scale.
    public var value: Double
    /// 95% interval (see `interval`).
    public var ciLow: Double
    public var ciHigh: Double
    /// Mean scores only: the judge's scale, which bounds the score's noise.
    public var scaleMin: Double?
    public var scaleMax: Double?

    public init(name: String, kind: Kind, n: Int, passes: Int?, value: Double, scaleMin: Double? = nil, scaleMax: Double? = nil) {
        self.name = name
        self.kind = kind
        self.n = n
        self.passes = passes
        self.value = value
        self.scaleMin = scaleMin
        self.scaleMax = scaleMax
        (ciLow, ciHigh) = Self.interval(value: value, n: n, scaleMin: scaleMin, scaleMax: scaleMax)
    }

    /// Wilson's 95% interval. A mean score on [min, max] is mapped onto [0, 1] first: a
    /// variable bounded there has at most the variance of a Bernoulli with the same mean
    /// (Bhatia-Davis), so the Wilson interval of the mapped mean is a safe bound on its noise,
    /// and it stays meaningful when every case got the same score (a standard deviation of 0).
    static func interval(value: Double, n: Int, scaleMin: Double?, scaleMax: Double?) -> (Double, Double) {
        let lo = scaleMin ?? 0, hi = scaleMax ?? 1
        let width = hi - lo
        guard width > 0, let bounds = WilsonInterval.bounds(proportion: (value - lo) / width, n: n) else { return (value, value) }
        return (lo + bounds.low * width, lo + bounds.high * width)
    }

    enum CodingKeys: String, CodingKey {
        case name, kind, n, passes, value
        case ciLow = "ci_low", ciHigh = "ci_high", scaleMin = "scale_min", scaleMax = "scale_max"
    }

    /// The metrics of a run, checks first then judges, each by name.
    public static func compute(cases: [GoldenCaseResult], judges: [GoldenJudgeSummary]) -> [GoldenMetric] {
        var checkCounts: [String: (n: Int, passes: Int)] = [:]
        var judgeScores: [String: [(score: Double, passed: Bool)]] = [:]
        for result in cases {
            for check in result.checks {
                checkCounts[check.name, default: (0, 0)].n += 1
                if check.passed { checkCounts[check.name, default: (0, 0)].passes += 1 }
            }
            for judge in result.judges where judge.status == .scored {
                guard let score = judge.score, let passed = judge.passed else { continue }
                judgeScores[judge.judge, default: []].append((score, passed))
            }
        }
        var metrics = checkCounts.keys.sorted().map { name -> GoldenMetric in
            let count = checkCounts[name]!
            // Red-team expectations are named by their metric already (`expect:refuse`).
            let metric = name.hasPrefix("expect:") ? name : "check:\(name)"
            return GoldenMetric(name: metric, kind: .passRate, n: count.n, passes: count.passes, value: Double(count.passes) / Double(count.n))
        }
        for judge in judges.sorted(by: { $0.name < $1.name }) {
            guard let scores = judgeScores[judge.name], !scores.isEmpty else { continue }
            let passes = scores.count { $0.passed }
            metrics.append(
                GoldenMetric(
                    name: "judge:\(judge.name)", kind: .passRate, n: scores.count, passes: passes,
                    value: Double(passes) / Double(scores.count)))
            if judge.isNumeric {
                let mean = scores.reduce(0) { $0 + $1.score } / Double(scores.count)
                metrics.append(
                    GoldenMetric(
                        name: "judge:\(judge.name):mean_score", kind: .meanScore, n: scores.count, passes: nil,
                        value: mean, scaleMin: judge.scaleMin, scaleMax: judge.scaleMax))
            }
        }
        return metrics
    }
}
