import EvaldCore
import Foundation
import Testing

@Suite struct GoldenGateTests {
    static func rate(_ name: String, _ passes: Int, _ n: Int) -> GoldenMetric {
        GoldenMetric(name: name, kind: .passRate, n: n, passes: passes, value: Double(passes) / Double(n))
    }

    static func baseline(_ metrics: [GoldenMetric], tolerances: [String: Double] = [:]) -> GoldenBaseline {
        GoldenBaseline(set: "s", cases: 50, metrics: metrics, tolerances: tolerances, writtenAt: Date(timeIntervalSince1970: 0))
    }

    @Test func defaultToleranceIsTheLowerHalfWidthOfTheBaselinesWilsonInterval() {
        // 45/50 = 0.9: Wilson 95% low = (0.9 + z²/100 - z·sqrt(0.0018 + z²/10000)) / (1 + z²/50)
        // = (0.938415 - 0.091599) / 1.076829 = 0.786398, so the tolerance is 0.9 - 0.786398 = 0.113602.
        #expect(abs(GoldenGate.defaultTolerance(Self.rate("check:a", 45, 50)) - 0.113602) < 1e-5)
        // At 100% the tolerance is not 0 (20/20: low 0.838875), so one flaky verdict does not fail CI.
        #expect(abs(GoldenGate.defaultTolerance(Self.rate("check:a", 20, 20)) - 0.161125) < 1e-5)
    }

    @Test func aDropBeyondToleranceRegressesAndOneWithinIsOk() {
        let base = Self.baseline([Self.rate("check:a", 45, 50), Self.rate("check:b", 45, 50)])
        // 40/50 = 0.80 >= 0.7864: noise. 39/50 = 0.78 < 0.7864: regression.
        let report = GoldenGate.compare(current: [Self.rate("check:a", 40, 50), Self.rate("check:b", 39, 50)], baseline: base)
        #expect(report.rows.map(\.verdict) == [.ok, .regressed])
        #expect(report.regressed.map(\.metric) == ["check:b"])
        #expect(!report.passed)
        #expect(abs(report.rows[1].delta! + 0.12) < 1e-9)
    }

    @Test func toleranceOverridesComeFromTheBaselineFileThenTheFlag() {
        let base = Self.baseline([Self.rate("check:no-pii", 50, 50), Self.rate("check:ok", 50, 50)], tolerances: ["check:no-pii": 0])
        let current = [Self.rate("check:no-pii", 49, 50), Self.rate("check:ok", 49, 50)]
        let report = GoldenGate.compare(current: current, baseline: base)
        #expect(report.rows.map(\.verdict) == [.regressed, .ok])
        #expect(report.rows[0].toleranceSource == "override")
        let flagged = GoldenGate.compare(current: current, baseline: base, overrides: ["check:no-pii": 0.05, "check:ok": 0])
        #expect(flagged.rows.map(\.verdict) == [.ok, .regressed])
    }

    @Test func newAndGoneMetricsAreReportedNotFailures() {
        // 30/50 -> 49/50 is beyond the tolerance (0.6 - Wilson low 0.462): improved.
        let base = Self.baseline([Self.rate("check:a", 30, 50), Self.rate("judge:helpfulness", 30, 50)])
        let report = GoldenGate.compare(current: [Self.rate("check:a", 49, 50), Self.rate("check:new", 10, 50)], baseline: base)
        #expect(report.rows.map(\.metric) == ["check:a", "check:new", "judge:helpfulness"])
        #expect(report.rows.map(\.verdict) == [.improved, .new, .gone])
        #expect(report.passed)
        #expect(report.warnings.count == 1)
        #expect(report.warnings[0].contains("judge:helpfulness"))
    }

    @Test func aJudgeMissingFromTheBaselineIsNamedAsNotGated() {
        let base = Self.baseline([Self.rate("check:a", 30, 50)])
        let report = GoldenGate.compare(current: [Self.rate("check:a", 30, 50), Self.rate("judge:helpfulness", 10, 50)], baseline: base)
        #expect(report.passed)
        #expect(
            report.warnings == [
                "warning: judge:helpfulness is not in the baseline (written without this judge's endpoint); it is shown, not compared: once its results are accepted, write the baseline with --write-baseline"
            ])
    }

    @Test func meanScoresGetAToleranceFromTheirScale() {
        // Mean 4.0 on 1-5 over 20 cases maps to 0.75: Wilson low 0.531299 -> 1 + 4 x 0.531299 = 3.125196.
        let mean = GoldenMetric(name: "judge:h:mean_score", kind: .meanScore, n: 20, passes: nil, value: 4, scaleMin: 1, scaleMax: 5)
        #expect(abs(mean.ciLow - 3.125196) < 1e-5)
        #expect(abs(GoldenGate.defaultTolerance(mean) - 0.874804) < 1e-5)
    }

    @Test func metricsAreComputedFromCaseResults() {
        let judge = GoldenJudgeSummary(name: "h", identity: "h@1+00000000", scale: .numeric(min: 1, max: 5), passAt: 4)
        let cases = [
            GoldenCaseResult(
                id: "1", route: "r", checks: [.init(name: "ok", passed: true, detail: "")],
                judges: [.init(judge: "h", status: .scored, score: 5, passed: true)]),
            GoldenCaseResult(
                id: "2", route: "r", checks: [.init(name: "ok", passed: false, detail: "")],
                judges: [.init(judge: "h", status: .scored, score: 2, passed: false)]),
            GoldenCaseResult(
                id: "3", route: "r", checks: [],
                judges: [.init(judge: "h", status: .error, error: "no_json")]),
        ]
        let metrics = GoldenMetric.compute(cases: cases, judges: [judge])
        #expect(metrics.map(\.name) == ["check:ok", "judge:h", "judge:h:mean_score"])
        #expect(metrics.map(\.n) == [2, 2, 2])
        #expect(metrics.map(\.value) == [0.5, 0.5, 3.5])
    }

    @Test func baselineRoundTripsAndKeepsTolerances() throws {
        let base = Self.baseline([Self.rate("check:a", 45, 50)], tolerances: ["check:a": 0.01])
        let parsed = try GoldenBaseline.parse(Array(base.serialized().utf8), path: "baseline.json")
        #expect(parsed == base)
        #expect(throws: GoldenLockError.self) { try GoldenBaseline.parse(Array("{\"version\": 1}".utf8), path: "b.json") }
    }
}

@Suite struct CalibrationTests {
    static let numeric = GoldenJudgeSummary(name: "h", identity: "h@1+00000000", scale: .numeric(min: 1, max: 5), passAt: 4)
    static let passFail = GoldenJudgeSummary(name: "t", identity: "t@1+00000000", scale: .passFail, passAt: 1)

    @Test func kappaAndConfusionMatchTheHandComputation() {
        // 10 cases: human pass & judge pass 4, pass/fail 1, fail/pass 2, fail/fail 3.
        // p_o = (4 + 3) / 10 = 0.7. Human pass rate 5/10 = 0.5, judge pass rate 6/10 = 0.6.
        // p_e = 0.5 x 0.6 + 0.5 x 0.4 = 0.5. kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
        let pairs =
            Array(repeating: Calibration.Pair(label: GoldenLabel(pass: true), score: 1, passed: true), count: 4)
            + [Calibration.Pair(label: GoldenLabel(pass: true), score: 0, passed: false)]
            + Array(repeating: Calibration.Pair(label: GoldenLabel(pass: false), score: 1, passed: true), count: 2)
            + Array(repeating: Calibration.Pair(label: GoldenLabel(pass: false), score: 0, passed: false), count: 3)
        let c = Calibration.calibrate(judge: Self.passFail, pairs: pairs, minKappa: 0.6)
        #expect(c.confusion == PassFailConfusion(humanPassJudgePass: 4, humanPassJudgeFail: 1, humanFailJudgePass: 2, humanFailJudgeFail: 3))
        #expect(c.n == 10)
        #expect(abs(c.accuracy! - 0.7) < 1e-12)
        #expect(abs(c.kappa! - 0.4) < 1e-12)
        #expect(c.flagged)
        #expect(c.scoreN == nil)
        #expect(!Calibration.calibrate(judge: Self.passFail, pairs: pairs, minKappa: 0.3).flagged)
    }

    @Test func undefinedKappaIsNullWithAReasonNotNaN() throws {
        // Everyone passes everything: p_e = 1 x 1 + 0 x 0 = 1, kappa = 0/0.
        let pairs = Array(repeating: Calibration.Pair(label: GoldenLabel(pass: true), score: 1, passed: true), count: 5)
        let c = Calibration.calibrate(judge: Self.passFail, pairs: pairs, minKappa: 0.6)
        #expect(c.kappa == nil)
        #expect(c.kappaNote?.contains("undefined") == true)
        #expect(!c.flagged)
        let json = String(decoding: try JSONEncoder().encode(c), as: UTF8.self)
        #expect(json.contains("\"kappa\":null"))
        #expect(!json.contains("NaN"))
    }

    @Test func spearmanUsesAverageRanksForTies() {
        #expect(Calibration.averageRanks([1, 2, 2, 3]) == [1, 2.5, 2.5, 4])
        #expect(Calibration.averageRanks([3, 1, 3, 3]) == [3, 1, 3, 3])
        // x ranks 1, 2.5, 2.5, 4; y ranks 1, 3, 2, 4; both mean 2.5.
        // Σdx·dy = 2.25 + 0 + 0 + 2.25 = 4.5; Σdx² = 4.5; Σdy² = 2.25 + 0.25 + 0.25 + 2.25 = 5.
        // rho = 4.5 / sqrt(4.5 x 5) = 0.948683.
        #expect(abs(Calibration.spearman([1, 2, 2, 3], [1, 3, 2, 4])! - 0.948683) < 1e-6)
        #expect(Calibration.spearman([1, 2, 3], [3, 2, 1]) == -1)
        #expect(Calibration.spearman([2, 2, 2], [1, 2, 3]) == nil)
    }

    @Test func numericJudgesGetMAEAndAScoreMatrix() {
        // Human 5, 4, 2, 1 against judge 4, 4, 3, 1: MAE = (1 + 0 + 1 + 0) / 4 = 0.5.
        let pairs = zip([5.0, 4, 2, 1], [4.0, 4, 3, 1]).map { human, judge in
            Calibration.Pair(label: GoldenLabel(score: human), score: judge, passed: judge >= 4)
        }
        let c = Calibration.calibrate(judge: Self.numeric, pairs: pairs, minKappa: 0.6)
        #expect(c.meanAbsoluteError == 0.5)
        #expect(c.scoreN == 4)
        // Human pass derived from the score at pass_at 4: pass, pass, fail, fail; judge: pass, pass, fail, fail.
        #expect(c.confusion == PassFailConfusion(humanPassJudgePass: 2, humanPassJudgeFail: 0, humanFailJudgePass: 0, humanFailJudgeFail: 2))
        #expect(c.kappa == 1)
        let matrix = c.scoreConfusion!
        #expect(matrix.scores == [1, 2, 3, 4, 5])
        #expect(matrix.counts[4][3] == 1)  // human 5, judge 4
        #expect(matrix.counts[3][3] == 1)  // human 4, judge 4
        #expect(matrix.counts[1][2] == 1)  // human 2, judge 3
        #expect(matrix.counts[0][0] == 1)  // human 1, judge 1
        #expect(matrix.counts.joined().reduce(0, +) == 4)
    }
}
