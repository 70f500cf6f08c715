import Foundation

/// One check's verdict on one golden case.
public struct GoldenCheckOutcome: Codable, Sendable, Equatable {
    public var name: String
    public var passed: Bool
    public var detail: String

    public init(name: String, passed: Bool, detail: String) {
        self.name = name
        self.passed = passed
        self.detail = detail
    }
}

/// One judge's verdict on one golden case. An error (an unusable reply, a failed call, the
/// --judge-timeout) is counted and shown but never scored: the case then has no verdict.
public struct GoldenJudgeOutcome: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case scored, error }
    public var judge: String
    public var status: Status
    public var score: Double?
    public var passed: Bool?
    public var reason: String?
    public var error: String?

    public init(judge: String, status: Status, score: Double? = nil, passed: Bool? = nil, reason: String? = nil, error: String? = nil) {
        self.judge = judge
        self.status = status
        self.score = score
        self.passed = passed
        self.reason = reason
        self.error = error
    }
}

public struct GoldenCaseResult: Codable, Sendable, Equatable {
    public var id: String
    public var route: String?
    public var checks: [GoldenCheckOutcome]
    public var judges: [GoldenJudgeOutcome]

    public init(id: String, route: String?, checks: [GoldenCheckOutcome], judges: [GoldenJudgeOutcome]) {
        self.id = id
        self.route = route
        self.checks = checks
        self.judges = judges
    }
}

/// A judge as it took part in a run: what it is, whether it ran, and how its calls went.
public struct GoldenJudgeSummary: Codable, Sendable, Equatable {
    public var name: String
    public var identity: String
    /// nil for `scale: pass_fail`.
    public var scaleMin: Double?
    public var scaleMax: Double?
    public var passAt: Double
    /// Why it did not run (no endpoint, no API key); nil when it ran.
    public var skipped: String?
    /// Cases it applies to, cases it scored, cases whose verdict is a judge error.
    public var cases: Int
    public var scored: Int
    public var errors: Int

    public init(name: String, identity: String, scale: JudgeScale, passAt: Double, skipped: String? = nil, cases: Int = 0, scored: Int = 0, errors: Int = 0) {
        self.name = name
        self.identity = identity
        if case .numeric(let min, let max) = scale {
            scaleMin = min
            scaleMax = max
        }
        self.passAt = passAt
        self.skipped = skipped
        self.cases = cases
        self.scored = scored
        self.errors = errors
    }

    public var isNumeric: Bool { scaleMin != nil && scaleMax != nil }

    enum CodingKeys: String, CodingKey {
        case name, identity, skipped, cases, scored, errors
        case scaleMin = "scale_min", scaleMax = "scale_max", passAt = "pass_at"
    }
}

/// What scoring a golden set produced: the verdicts per case and the metrics over the set. The
/// CLI's gate and calibrate and the daemon's canary replay all read it.
public struct GoldenRunResult: Codable, Sendable, Equatable {
    public var set: String
    public var cases: [GoldenCaseResult]
    public var judges: [GoldenJudgeSummary]
    public var metrics: [GoldenMetric]
    /// The run stopped waiting for judges at --judge-timeout; unfinished calls count as errors.
    public var judgeTimedOut: Bool

    public init(set: String, cases: [GoldenCaseResult], judges: [GoldenJudgeSummary], judgeTimedOut: Bool = false) {
        self.set = set
        self.cases = cases
        self.judges = judges
        self.judgeTimedOut = judgeTimedOut
        self.metrics = GoldenMetric.compute(cases: cases, judges: judges)
    }

    public var judgeErrors: Int { judges.reduce(0) { $0 + $1.errors } }

    enum CodingKeys: String, CodingKey {
        case set, cases, judges, metrics
        case judgeTimedOut = "judge_timed_out"
    }
}
