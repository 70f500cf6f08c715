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

    /// The share of a judge's cases that may end as judge errors before the gate fails: above
    /// it, the judge's metrics say more about the judge (a wrong endpoint, replies cut at
    /// max_output_tokens, a model that cannot follow the JSON format) than about the answers.
    public static let maxJudgeErrorShare = 0.5

    /// Why the gate must fail because of broken judges: one reason per judge that ran and whose
    /// cases ended mostly as judge errors. A judge that could not run at all (no endpoint, no
    /// key) is not here: it is a warning.
    public var brokenJudges: [String] {
        judges.compactMap { judge -> String? in
            let attempted = judge.scored + judge.errors
            guard judge.skipped == nil, attempted > 0, Double(judge.errors) > Self.maxJudgeErrorShare * Double(attempted) else { return nil }
            let byKind = errorKinds(judge: judge.name).map { "\($0.kind) \($0.count)" }.joined(separator: ", ")
            return
                "judge \(judge.name): \(judge.errors) of \(attempted) cases ended as judge errors (\(byKind)); more than \(Int(Self.maxJudgeErrorShare * 100))% means the judge, not the answers, is what the gate measures: fix its endpoint or rubric"
        }
    }

    /// A judge's judge errors by kind (`no_json`, `truncated`, `retries_exhausted`, ...: the
    /// error's leading word), most frequent first; `other` for an error without one.
    public func errorKinds(judge name: String) -> [(kind: String, count: Int)] {
        var kinds: [String: Int] = [:]
        for outcome in cases.lazy.flatMap(\.judges) where outcome.judge == name && outcome.status == .error {
            let kind = outcome.error.map { String($0.prefix { $0 != ":" }) }.flatMap { $0.contains(" ") ? nil : $0 } ?? "other"
            kinds[kind, default: 0] += 1
        }
        return kinds.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { (kind: $0.key, count: $0.value) }
    }

    /// A case that failed a pass-rate metric, and why (the check's or expectation's detail,
    /// the judge's reason): what a failed gate names so the reader can open the case.
    public struct CaseFailure: Codable, Sendable, Equatable {
        public var id: String
        public var detail: String

        enum CodingKeys: String, CodingKey {
            case id = "case"
            case detail
        }
    }

    /// The cases that failed metric `name` (`check:NAME`, `expect:NAME`, `judge:NAME`), in case
    /// order; none for a mean-score metric, which no single case fails.
    public func failures(metric name: String) -> [CaseFailure] {
        cases.flatMap { result -> [CaseFailure] in
            if name.hasPrefix("judge:") {
                return result.judges.filter { "judge:\($0.judge)" == name && $0.status == .scored && $0.passed == false }
                    .map { CaseFailure(id: result.id, detail: $0.reason ?? "failed") }
            }
            return result.checks.filter { ($0.name.hasPrefix("expect:") ? $0.name : "check:\($0.name)") == name && !$0.passed }
                .map { CaseFailure(id: result.id, detail: $0.detail) }
        }
    }

    enum CodingKeys: String, CodingKey {
        case set, cases, judges, metrics
        case judgeTimedOut = "judge_timed_out"
    }
}
