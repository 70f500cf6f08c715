import Foundation
import Testing

@testable import EvaldCore

@Suite struct EndpointHealthTests {
    let at = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aTimeoutHalvesTheLimitOncePerRoundAndAnswersWinItBack() {
        var tracker = EndpointHealthTracker(endpoint: "default", timeoutSeconds: 30, concurrency: 8)
        #expect(tracker.concurrencyLimit == 8)
        tracker.record(.timedOut, seconds: 30, at: at)
        #expect(tracker.concurrencyLimit == 4)
        // The calls that were out with it time out too: they say nothing new.
        for _ in 0..<3 { tracker.record(.timedOut, seconds: 30, at: at) }
        #expect(tracker.concurrencyLimit == 4)
        // A round later, a timeout halves again, down to 1 at most.
        tracker.record(.timedOut, seconds: 30, at: at)
        #expect(tracker.concurrencyLimit == 2)
        for _ in 0..<10 { tracker.record(.timedOut, seconds: 30, at: at) }
        #expect(tracker.concurrencyLimit == 1)
        // Additive increase, after a clean stretch: about one more per round of answers, never
        // above the configured limit.
        for _ in 0..<(EndpointHealthTracker.cleanStretch - 1) { tracker.record(.answered, seconds: 5, at: at) }
        #expect(tracker.concurrencyLimit == 1)
        tracker.record(.answered, seconds: 5, at: at)
        #expect(tracker.concurrencyLimit == 2)
        for _ in 0..<100 { tracker.record(.answered, seconds: 5, at: at) }
        #expect(tracker.concurrencyLimit == 8)
    }

    @Test func otherFailuresLeaveTheLimitToTheBreakerButAreTheLastFailure() {
        var tracker = EndpointHealthTracker(endpoint: "default", timeoutSeconds: 30, concurrency: 4)
        tracker.record(.failed(cause: "connection refused to 127.0.0.1:8080"), seconds: 0.01, at: at)
        #expect(tracker.concurrencyLimit == 4)
        #expect(tracker.snapshot.lastFailure == "connection refused to 127.0.0.1:8080")
        #expect(tracker.snapshot.lastFailureAt == at)
        tracker.record(.overloaded(cause: "HTTP 429 from api.example.com:443"), seconds: 0.2, at: at)
        #expect(tracker.concurrencyLimit == 2)
        tracker.record(.timedOut, seconds: 30.2, at: at)
        #expect(tracker.snapshot.lastFailure == "timed out after 30s (endpoints.default.timeout)")
    }

    @Test func timeoutsStopBeingRetriedOnceTheyAreTheServersSpeed() {
        var tracker = EndpointHealthTracker(endpoint: "local", timeoutSeconds: 30, concurrency: 2)
        #expect(tracker.retriesTimeouts)
        tracker.record(.timedOut, seconds: 30, at: at)
        // One timeout may be a blip.
        #expect(tracker.retriesTimeouts)
        #expect(!tracker.snapshot.isDegraded)
        tracker.record(.timedOut, seconds: 30, at: at)
        #expect(!tracker.retriesTimeouts)
        let health = tracker.snapshot
        #expect(health.isDegraded)
        #expect(health.timeouts == 2 && health.attempts == 2)
        #expect(health.medianLatencySeconds == 30)
        #expect(health.concurrency == 1 && health.configuredConcurrency == 2)
        let reason = health.degradedReason ?? ""
        #expect(reason.hasPrefix("2 of the last 2 calls timed out after 30s (endpoints.local.timeout)"), "\(reason)")
        #expect(reason.contains("observed latency >= 30 s (median) against a timeout of 30s"), "\(reason)")
        #expect(reason.contains("concurrency lowered to 1 of 2"), "\(reason)")
        // Answers that come in time bring it back.
        for _ in 0..<3 { tracker.record(.answered, seconds: 12, at: at) }
        #expect(tracker.retriesTimeouts)
        #expect(tracker.snapshot.degradedReason == nil)
        #expect(tracker.snapshot.slowestAnsweredSeconds == 12)
    }

    @Test func theWindowKeepsTheLastAttempts() {
        var tracker = EndpointHealthTracker(endpoint: "e", timeoutSeconds: 1, concurrency: 1)
        for _ in 0..<30 { tracker.record(.timedOut, seconds: 1, at: at) }
        for _ in 0..<EndpointHealthTracker.windowSize { tracker.record(.answered, seconds: 0.5, at: at) }
        #expect(tracker.snapshot.attempts == EndpointHealthTracker.windowSize)
        #expect(tracker.snapshot.timeouts == 0)
    }

    @Test func healthSurvivesItsJSON() throws {
        var tracker = EndpointHealthTracker(endpoint: "default", timeoutSeconds: 1.5, concurrency: 3)
        tracker.record(.timedOut, seconds: 1.5, at: at)
        tracker.record(.answered, seconds: 0.75, at: at)
        let health = tracker.snapshot
        let text = health.json.serialized()
        #expect(EndpointHealth(json: try JSONParser.parse(text)) == health)
    }

    // MARK: JudgeFailing's texts

    @Test func judgeFailingSaysTransportErrorsWaitInTheQueue() {
        let draft = HealthAlerts.judgeFailing(
            judge: "helpfulness", identity: "helpfulness@1+abcd1234", endpoint: "default", judged: 0, errors: 0, windowMinutes: 15,
            threshold: 0.5, minVerdicts: 10,
            circuitReason: "circuit open: endpoint default failed repeatedly (last: connection refused to 127.0.0.1:8080); next try at 2027-01-15T08:00:30Z",
            lastFailure: "connection refused to 127.0.0.1:8080")
        #expect(draft.summary.hasPrefix("Judge helpfulness is failing (transport errors: traces wait in the queue): "), "\(draft.summary)")
        #expect(draft.summary.contains("connection refused to 127.0.0.1:8080"))
        #expect(draft.description.contains("none is lost, the traces wait in the judge queue"))
        #expect(!draft.description.contains("Reply errors are final"))
        #expect(draft.labels == ["metric": "judge:helpfulness", "endpoint": "default"])
    }

    @Test func judgeFailingSaysReplyErrorsAreFinalAndNamesTheirKinds() {
        let draft = HealthAlerts.judgeFailing(
            judge: "helpfulness", identity: "helpfulness@1+abcd1234", endpoint: "default", judged: 16, errors: 16,
            errorKinds: ["no_json": 12, "truncated": 4], windowMinutes: 15, threshold: 0.5, minVerdicts: 10, circuitReason: nil)
        #expect(
            draft.summary
                == "Judge helpfulness is failing (reply errors: those verdicts are final): 100% of its last 16 verdicts are judge errors (no_json 12, truncated 4)"
        )
        #expect(draft.description.contains("Reply errors are final"))
        #expect(draft.description.contains("that trace is not judged again"))
        #expect(!draft.description.contains("none is lost"))
        #expect(!draft.description.contains("traces wait in the judge queue"))
    }

    @Test func judgeFailingForADegradedEndpointGivesTheLatencyAgainstTheTimeout() {
        let reason = "6 of the last 8 calls timed out after 30 s (endpoints.default.timeout); observed latency >= 30 s (median) against a timeout of 30 s"
        let draft = HealthAlerts.judgeFailing(
            judge: "helpfulness", identity: "helpfulness@1+abcd1234", endpoint: "default", judged: 1, errors: 0, windowMinutes: 15,
            threshold: 0.5, minVerdicts: 10, circuitReason: nil, degradedReason: reason)
        #expect(draft.summary.contains("most calls to endpoint default time out"))
        #expect(draft.description.contains(reason))
        #expect(draft.numbers["degraded"] == 1)
    }

    // MARK: the gate and broken judges

    @Test func aJudgeWhoseCasesEndMostlyAsErrorsBreaksTheGateButASkippedOneDoesNot() {
        func outcome(_ judge: String, _ error: String?) -> GoldenJudgeOutcome {
            error.map { GoldenJudgeOutcome(judge: judge, status: .error, error: $0) }
                ?? GoldenJudgeOutcome(judge: judge, status: .scored, score: 4, passed: true)
        }
        let cases = (0..<10).map { n in
            GoldenCaseResult(
                id: "c\(n)", route: "support-chat", checks: [],
                judges: [
                    outcome("faithfulness", n < 7 ? "no_json: the reply holds no JSON object" : (n < 9 ? "truncated: the reply was cut" : nil)),
                    outcome("helpfulness", n < 5 ? "no_json: the reply holds no JSON object" : nil),
                ])
        }
        let result = GoldenRunResult(
            set: "support", cases: cases,
            judges: [
                GoldenJudgeSummary(
                    name: "faithfulness", identity: "faithfulness@1+aa", scale: .numeric(min: 1, max: 5), passAt: 4, cases: 10, scored: 1, errors: 9),
                GoldenJudgeSummary(
                    name: "helpfulness", identity: "helpfulness@1+bb", scale: .numeric(min: 1, max: 5), passAt: 4, cases: 10, scored: 5, errors: 5),
                GoldenJudgeSummary(
                    name: "tone-safety", identity: "tone-safety@1+cc", scale: .passFail, passAt: 1, skipped: "no judge endpoint configured", cases: 10),
            ])
        #expect(result.brokenJudges.count == 1)
        let reason = result.brokenJudges.first ?? ""
        #expect(reason.hasPrefix("judge faithfulness: 9 of 10 cases ended as judge errors (no_json 7, truncated 2)"), "\(reason)")
    }
}
