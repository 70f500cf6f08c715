import EvaldCore
import EvaldJudge
import Foundation

/// Scores a golden set as the daemon scores traffic: the checks of the route (the same
/// CheckPlan) and every judge that applies, through the production judge client with the same
/// prompt building, PII redaction and reply parsing. The CLI's `gate` and `calibrate` run it on
/// the set's recorded answers; the canary replay runs it on fresh answers
/// (`GoldenCase.answered(output:...)`).
public struct GoldenRunner: Sendable {
    public struct Judge: Sendable {
        public var rubric: JudgeRubric
        public var client: JudgeEndpointClient?
        /// Why it cannot run (no endpoint, no key): reported as skipped, never as failing.
        public var skipped: String?

        public init(rubric: JudgeRubric, client: JudgeEndpointClient?, skipped: String?) {
            self.rubric = rubric
            self.client = client
            self.skipped = client == nil ? (skipped ?? "no judge endpoint configured") : nil
        }
    }

    public var checks: CheckPlan
    public var judges: [Judge]
    public var redactPII: Bool
    private let detector = PIIDetector()

    public init(checks: CheckPlan, judges: [Judge], redactPII: Bool = true) {
        self.checks = checks
        self.judges = judges
        self.redactPII = redactPII
    }

    /// The runner of a configuration: its check plan and the roster's judges and clients
    /// (build the roster with `JudgeRoster.build(config:transport:)`, as the daemon does).
    public init(checks: CheckPlan, roster: JudgeRoster) {
        self.init(
            checks: checks, judges: roster.members.map { Judge(rubric: $0.rubric, client: $0.client, skipped: $0.unavailable) },
            redactPII: roster.redactPII)
    }

    /// Scores every case. Judge calls run concurrently within each endpoint's `concurrency`;
    /// whatever has not finished after `judgeTimeout` seconds is cancelled and counted as a judge
    /// error (never as a failing verdict), so a slow endpoint cannot hang a CI job.
    public func run(set: String, cases: [GoldenCase], judgeTimeout: Double = 600) async -> GoldenRunResult {
        var results = cases.map { golden in
            GoldenCaseResult(
                id: golden.id, route: golden.record.route,
                checks: checks.evaluate(golden.record).map { GoldenCheckOutcome(name: $0.name, passed: $0.passed, detail: $0.detail) }
                    + RedTeamScorer.score(golden.redTeam, record: golden.record),
                judges: [])
        }
        // (case, judge) pairs to grade: a judge applies by route, and only to a case with an
        // answer (as JudgeRouting decides for traffic). Judge by judge, in case order: requests
        // sent one after another then share the rubric's opening (and, within a route, the
        // system prompt), which a server's prompt cache (llama.cpp's, OpenAI's) reuses.
        var work: [(caseIndex: Int, judgeIndex: Int)] = []
        var applicable = Array(repeating: 0, count: judges.count)
        for (judgeIndex, judge) in judges.enumerated() {
            for (caseIndex, golden) in cases.enumerated() where judge.rubric.applies(toRoute: golden.record.route) {
                guard let output = golden.record.output, !output.isEmpty, golden.record.status != .error else { continue }
                applicable[judgeIndex] += 1
                if judge.client != nil { work.append((caseIndex, judgeIndex)) }
            }
        }
        var outcomes: [Int: [Int: GoldenJudgeOutcome]] = [:]
        var timedOut = false
        if !work.isEmpty {
            enum Event: Sendable {
                case graded(Int, Int, GoldenJudgeOutcome)
                case deadline
            }
            let judges = self.judges
            let detector = redactPII ? self.detector : nil
            await withTaskGroup(of: Event.self) { group in
                for item in work {
                    let golden = cases[item.caseIndex], judge = judges[item.judgeIndex]
                    group.addTask {
                        .graded(item.caseIndex, item.judgeIndex, await Self.grade(golden, judge: judge, detector: detector))
                    }
                }
                group.addTask {
                    try? await Task.sleep(nanoseconds: UInt64(max(0, min(judgeTimeout, 1e9)) * 1e9))
                    return .deadline
                }
                var remaining = work.count
                while remaining > 0, let event = await group.next() {
                    switch event {
                    case .graded(let caseIndex, let judgeIndex, let outcome):
                        remaining -= 1
                        outcomes[caseIndex, default: [:]][judgeIndex] = outcome
                    case .deadline:
                        timedOut = true
                        group.cancelAll()
                    }
                }
                group.cancelAll()
            }
        }
        var summaries = judges.enumerated().map { index, judge in
            GoldenJudgeSummary(
                name: judge.rubric.name, identity: judge.rubric.identity, scale: judge.rubric.scale,
                passAt: judge.rubric.passAt, skipped: judge.skipped, cases: applicable[index])
        }
        let timeoutNote = "not finished within --judge-timeout \(ConfigDuration.format(judgeTimeout)); counted as a judge error"
        for item in work {
            var outcome =
                outcomes[item.caseIndex]?[item.judgeIndex]
                ?? GoldenJudgeOutcome(judge: judges[item.judgeIndex].rubric.name, status: .error, error: timeoutNote)
            if timedOut, outcome.status == .error, outcome.error?.contains("cancelled") == true { outcome.error = timeoutNote }
            results[item.caseIndex].judges.append(outcome)
            if outcome.status == .scored { summaries[item.judgeIndex].scored += 1 } else { summaries[item.judgeIndex].errors += 1 }
        }
        return GoldenRunResult(set: set, cases: results, judges: summaries, judgeTimedOut: timedOut)
    }

    /// One judge on one case: the daemon's prompt (redacted), the endpoint's client (retries,
    /// breaker, concurrency), the daemon's reply parser.
    static func grade(_ golden: GoldenCase, judge: Judge, detector: PIIDetector?) async -> GoldenJudgeOutcome {
        let name = judge.rubric.name
        guard let client = judge.client else { return GoldenJudgeOutcome(judge: name, status: .error, error: judge.skipped) }
        let prompt: String
        do {
            prompt = try JudgePromptBuilder.prompt(record: golden.record, metadata: golden.metadata, rubric: judge.rubric, redactingWith: detector)
        } catch {
            return GoldenJudgeOutcome(judge: name, status: .error, error: "render_error: \(error.message)")
        }
        do {
            let completion = try await client.complete(
                JudgeRequest(
                    prompt: prompt, temperature: judge.rubric.temperature,
                    maxOutputTokens: judge.rubric.maxOutputTokens))
            switch JudgeReplyParser.parse(
                completion.text, scale: judge.rubric.scale, passAt: judge.rubric.passAt, finishReason: completion.finishReason,
                maxOutputTokens: judge.rubric.maxOutputTokens)
            {
            case .success(let score):
                return GoldenJudgeOutcome(judge: name, status: .scored, score: score.score, passed: score.passed, reason: score.reason)
            case .failure(let error):
                return GoldenJudgeOutcome(judge: name, status: .error, error: "\(error.kind.rawValue): \(error.message)")
            }
        } catch {
            return GoldenJudgeOutcome(judge: name, status: .error, error: "\(error.kind.rawValue): \(error.message)")
        }
    }
}
