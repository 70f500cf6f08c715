import Foundation

/// Human verdict (rows) against judge verdict (columns) over the labelled cases.
public struct PassFailConfusion: Codable, Sendable, Equatable {
    public var humanPassJudgePass = 0
    public var humanPassJudgeFail = 0
    public var humanFailJudgePass = 0
    public var humanFailJudgeFail = 0

    public init(humanPassJudgePass: Int = 0, humanPassJudgeFail: Int = 0, humanFailJudgePass: Int = 0, humanFailJudgeFail: Int = 0) {
        self.humanPassJudgePass = humanPassJudgePass
        self.humanPassJudgeFail = humanPassJudgeFail
        self.humanFailJudgePass = humanFailJudgePass
        self.humanFailJudgeFail = humanFailJudgeFail
    }

    public var n: Int { humanPassJudgePass + humanPassJudgeFail + humanFailJudgePass + humanFailJudgeFail }

    enum CodingKeys: String, CodingKey {
        case humanPassJudgePass = "human_pass_judge_pass", humanPassJudgeFail = "human_pass_judge_fail"
        case humanFailJudgePass = "human_fail_judge_pass", humanFailJudgeFail = "human_fail_judge_fail"
    }
}

/// Human score (rows) against judge score (columns), for whole-number scales.
public struct ScoreConfusion: Codable, Sendable, Equatable {
    public var scores: [Int]
    /// counts[i][j]: cases the human scored scores[i] and the judge scores[j].
    public var counts: [[Int]]
}

/// How well one judge agrees with the human labels of a golden set.
public struct JudgeCalibration: Codable, Sendable, Equatable {
    public var judge: String
    public var identity: String
    /// Cases with a human pass/fail verdict and a judge verdict.
    public var n: Int
    public var accuracy: Double?
    /// Cohen's kappa; nil with `kappaNote` saying why when it is undefined.
    public var kappa: Double?
    public var kappaNote: String?
    public var confusion: PassFailConfusion
    /// Numeric scales: cases with both a human and a judge score.
    public var scoreN: Int?
    public var scoreConfusion: ScoreConfusion?
    public var meanAbsoluteError: Double?
    public var spearman: Double?
    public var spearmanNote: String?
    public var minKappa: Double
    /// Kappa below calibration.min_kappa: the judge's verdicts are not to be trusted as they are.
    public var flagged: Bool

    enum CodingKeys: String, CodingKey {
        case judge, identity, n, accuracy, kappa, confusion, spearman, flagged
        case kappaNote = "kappa_note", scoreN = "score_n", scoreConfusion = "score_confusion"
        case meanAbsoluteError = "mae", spearmanNote = "spearman_note", minKappa = "min_kappa"
    }

    // Explicit nulls (never NaN, never a missing key): `--json` is a stable interface.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(judge, forKey: .judge)
        try c.encode(identity, forKey: .identity)
        try c.encode(n, forKey: .n)
        try c.encode(accuracy, forKey: .accuracy)
        try c.encode(kappa, forKey: .kappa)
        try c.encode(kappaNote, forKey: .kappaNote)
        try c.encode(confusion, forKey: .confusion)
        try c.encode(scoreN, forKey: .scoreN)
        try c.encode(scoreConfusion, forKey: .scoreConfusion)
        try c.encode(meanAbsoluteError, forKey: .meanAbsoluteError)
        try c.encode(spearman, forKey: .spearman)
        try c.encode(spearmanNote, forKey: .spearmanNote)
        try c.encode(minKappa, forKey: .minKappa)
        try c.encode(flagged, forKey: .flagged)
    }
}

public enum Calibration {
    /// One labelled case as one judge scored it.
    public struct Pair: Sendable, Equatable {
        public var label: GoldenLabel
        public var score: Double
        public var passed: Bool
        public init(label: GoldenLabel, score: Double, passed: Bool) {
            self.label = label
            self.score = score
            self.passed = passed
        }
    }

    /// Every judge that ran against the labels of the cases it scored. Skipped judges are left
    /// out (nothing to calibrate); a judge with no labelled, scored case is in with n = 0.
    public static func calibrate(result: GoldenRunResult, cases: [GoldenCase], minKappa: Double) -> [JudgeCalibration] {
        let labels = Dictionary(cases.compactMap { c in c.label.map { (c.id, $0) } }, uniquingKeysWith: { a, _ in a })
        return result.judges.filter { $0.skipped == nil }.map { judge in
            var pairs: [Pair] = []
            for caseResult in result.cases {
                guard let label = labels[caseResult.id],
                    let outcome = caseResult.judges.first(where: { $0.judge == judge.name && $0.status == .scored }),
                    let score = outcome.score, let passed = outcome.passed
                else { continue }
                pairs.append(Pair(label: label, score: score, passed: passed))
            }
            return calibrate(judge: judge, pairs: pairs, minKappa: minKappa)
        }
    }

    public static func calibrate(judge: GoldenJudgeSummary, pairs: [Pair], minKappa: Double) -> JudgeCalibration {
        var confusion = PassFailConfusion()
        var humanScores: [Double] = [], judgeScores: [Double] = []
        for pair in pairs {
            // A pass_fail judge is compared with the human's pass only: a 1-5 score says nothing
            // about where that judge's line is. A numeric judge takes the human's pass, else the
            // human's score against the judge's own pass_at.
            let humanPass: Bool? = judge.isNumeric ? (pair.label.pass ?? pair.label.score.map { $0 >= judge.passAt }) : pair.label.pass
            if let humanPass {
                switch (humanPass, pair.passed) {
                case (true, true): confusion.humanPassJudgePass += 1
                case (true, false): confusion.humanPassJudgeFail += 1
                case (false, true): confusion.humanFailJudgePass += 1
                case (false, false): confusion.humanFailJudgeFail += 1
                }
            }
            if judge.isNumeric, let human = pair.label.score {
                humanScores.append(human)
                judgeScores.append(pair.score)
            }
        }
        let n = confusion.n
        let (kappa, kappaNote) = cohensKappa(confusion)
        var calibration = JudgeCalibration(
            judge: judge.name, identity: judge.identity, n: n,
            accuracy: n == 0 ? nil : Double(confusion.humanPassJudgePass + confusion.humanFailJudgeFail) / Double(n),
            kappa: kappa, kappaNote: kappaNote, confusion: confusion,
            minKappa: minKappa, flagged: kappa.map { $0 < minKappa } ?? false)
        if judge.isNumeric {
            calibration.scoreN = humanScores.count
            calibration.meanAbsoluteError = meanAbsoluteError(humanScores, judgeScores)
            calibration.spearman = spearman(humanScores, judgeScores)
            if calibration.spearman == nil {
                calibration.spearmanNote =
                    humanScores.count < 2
                    ? "fewer than 2 cases with both a human and a judge score"
                    : "undefined: the human or the judge gave every case the same score"
            }
            calibration.scoreConfusion = scoreConfusion(humanScores, judgeScores, min: judge.scaleMin ?? 0, max: judge.scaleMax ?? 0)
        }
        return calibration
    }

    /// Cohen's kappa: (p_o - p_e) / (1 - p_e), with p_o the observed agreement and p_e the
    /// agreement expected by chance from the two raters' marginal rates. Undefined (nil, with the
    /// reason) without cases or when p_e = 1, i.e. both raters gave every case the same verdict.
    public static func cohensKappa(_ m: PassFailConfusion) -> (kappa: Double?, note: String?) {
        let n = Double(m.n)
        guard n > 0 else { return (nil, "no labelled case has a verdict from this judge") }
        let observed = Double(m.humanPassJudgePass + m.humanFailJudgeFail) / n
        let humanPass = Double(m.humanPassJudgePass + m.humanPassJudgeFail) / n
        let judgePass = Double(m.humanPassJudgePass + m.humanFailJudgePass) / n
        let expected = humanPass * judgePass + (1 - humanPass) * (1 - judgePass)
        guard expected < 1 - 1e-12 else {
            return (nil, "undefined: the humans and the judge each gave every case the same verdict (chance agreement is 1); label cases of both kinds")
        }
        return ((observed - expected) / (1 - expected), nil)
    }

    public static func meanAbsoluteError(_ a: [Double], _ b: [Double]) -> Double? {
        guard !a.isEmpty, a.count == b.count else { return nil }
        return zip(a, b).reduce(0) { $0 + abs($1.0 - $1.1) } / Double(a.count)
    }

    /// Ranks from 1, tied values sharing the mean of the ranks they span (1, 2.5, 2.5, 4).
    public static func averageRanks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = Array(repeating: 0.0, count: values.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count, values[order[end + 1]] == values[order[start]] { end += 1 }
            let rank = Double(start + end) / 2 + 1
            for k in start...end { ranks[order[k]] = rank }
            start = end + 1
        }
        return ranks
    }

    /// Spearman's rho as the Pearson correlation of average ranks, which is exact with ties
    /// (the 1 - 6Σd²/(n(n²-1)) shortcut is not). nil when undefined (n < 2, or a constant side).
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double? {
        guard x.count == y.count, x.count >= 2 else { return nil }
        return pearson(averageRanks(x), averageRanks(y))
    }

    static func pearson(_ x: [Double], _ y: [Double]) -> Double? {
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) {
            sxy += (a - mx) * (b - my)
            sxx += (a - mx) * (a - mx)
            syy += (b - my) * (b - my)
        }
        guard sxx > 0, syy > 0 else { return nil }
        return sxy / (sxx * syy).squareRoot()
    }

    /// Only for whole-number scales of a readable size (1-5, 0-10).
    static func scoreConfusion(_ human: [Double], _ judge: [Double], min: Double, max: Double) -> ScoreConfusion? {
        guard min == min.rounded(), max == max.rounded(), max > min, max - min <= 20 else { return nil }
        guard (human + judge).allSatisfy({ $0 == $0.rounded() && $0 >= min && $0 <= max }) else { return nil }
        let scores = Array(Int(min)...Int(max))
        var counts = Array(repeating: Array(repeating: 0, count: scores.count), count: scores.count)
        for (h, j) in zip(human, judge) { counts[Int(h - min)][Int(j - min)] += 1 }
        return ScoreConfusion(scores: scores, counts: counts)
    }
}
