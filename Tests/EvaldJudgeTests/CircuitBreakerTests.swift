import EvaldHTTP
import EvaldTesting
import Foundation
import Testing

@testable import EvaldCore
@testable import EvaldJudge

@Suite struct CircuitBreakerTests {
    @Test func opensAfterConsecutiveFailuresFailsFastThenHalfOpensAndClosesOnSuccess() async throws {
        try await withStubJudge { stub, transport in
            stub.enqueue([.status(401), .status(401), .status(401)])
            let clock = ManualClock()
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.openai, baseURL: stub.baseURL, maxRetries: 0), apiKey: Secret(testAPIKey),
                transport: transport, breaker: CircuitBreakerPolicy(failureThreshold: 3, openFor: 30),
                now: { clock.now }, sleep: SleepRecorder().sleep)
            for _ in 0..<3 {
                #expect(await judgeError(client)?.kind == .rejected)
            }
            #expect(client.circuit == .open(until: clock.now + 30))

            // Open: no HTTP at all.
            let fast = try #require(await judgeError(client))
            #expect(fast.kind == .circuitOpen)
            #expect(fast.attempts == 0)
            #expect(fast.isTransient)
            #expect(stub.requests.count == 3)

            clock.advance(29)
            #expect(await judgeError(client)?.kind == .circuitOpen)
            #expect(stub.requests.count == 3)

            clock.advance(1)
            #expect(client.circuit == .halfOpen)
            let completion = try await client.complete(sampleRequest)
            #expect(completion.attempts == 1)
            #expect(client.circuit == .closed)
            #expect(stub.requests.count == 4)
        }
    }

    @Test func aFailedTrialReopensTheCircuit() async throws {
        try await withStubJudge { stub, transport in
            stub.enqueue([.serverError(503), .serverError(503), .serverError(503)])
            let clock = ManualClock()
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.anthropic, baseURL: stub.baseURL, maxRetries: 0), apiKey: nil,
                transport: transport, breaker: CircuitBreakerPolicy(failureThreshold: 2, openFor: 10),
                now: { clock.now }, sleep: SleepRecorder().sleep)
            _ = await judgeError(client)
            _ = await judgeError(client)
            #expect(client.circuit == .open(until: clock.now + 10))
            clock.advance(10)
            #expect(await judgeError(client)?.kind == .retriesExhausted)
            #expect(client.circuit == .open(until: clock.now + 10))
            #expect(stub.requests.count == 3)
        }
    }

    @Test func rejectionsOfSingleRequestsAndSingleMalformedRepliesDoNotOpenIt() async throws {
        try await withStubJudge { stub, transport in
            stub.enqueue(Array(repeating: .status(400), count: 6) + [.malformedJSON, .answer("ok"), .malformedJSON])
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.openai, baseURL: stub.baseURL, maxRetries: 0), apiKey: nil, transport: transport,
                breaker: CircuitBreakerPolicy(failureThreshold: 2, openFor: 10), sleep: SleepRecorder().sleep)
            for _ in 0..<9 { _ = await judgeError(client) }
            #expect(client.circuit == .closed)
        }
    }

    @Test func onlyOneTrialCallAtATimeAndACancelledTrialFreesTheSlot() {
        let breaker = CircuitBreaker(policy: CircuitBreakerPolicy(failureThreshold: 1, openFor: 5))
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(breaker.admit(now: start) == .normal)
        breaker.record(.failure, admission: .normal, now: start)
        #expect(breaker.admit(now: start + 4) == nil)
        #expect(breaker.admit(now: start + 5) == .trial)
        #expect(breaker.admit(now: start + 5) == nil)
        #expect(breaker.current(now: start + 5) == .halfOpen)
        breaker.record(.neutral, admission: .trial, now: start + 6)
        #expect(breaker.admit(now: start + 6) == .trial)
        breaker.record(.success, admission: .trial, now: start + 7)
        #expect(breaker.current(now: start + 7) == .closed)
    }

    @Test func callsAdmittedBeforeItOpenedStopRetryingAndDoNotCloseIt() {
        let breaker = CircuitBreaker(policy: CircuitBreakerPolicy(failureThreshold: 2, openFor: 5))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let early = breaker.admit(now: now)
        #expect(early == .normal)
        breaker.record(.failure, admission: .normal, now: now)
        #expect(breaker.mayContinue(.normal))
        breaker.record(.failure, admission: .normal, now: now)
        #expect(!breaker.mayContinue(.normal))
        breaker.record(.success, admission: .normal, now: now)
        #expect(breaker.current(now: now) == .open(until: now + 5))
    }

    @Test func outcomesForTheBreaker() {
        func outcome(_ kind: JudgeCallError.Kind, _ status: Int?) -> CircuitBreaker.Outcome {
            JudgeEndpointClient.breakerOutcome(of: .failure(JudgeCallError(kind: kind, message: "", status: status, attempts: 1)))
        }
        #expect(outcome(.rejected, 401) == .failure)
        #expect(outcome(.rejected, 403) == .failure)
        #expect(outcome(.rejected, 400) == .success)
        #expect(outcome(.badResponse, 200) == .failure)
        #expect(outcome(.retriesExhausted, 503) == .failure)
        #expect(outcome(.cancelled, nil) == .neutral)
        #expect(outcome(.circuitOpen, nil) == .neutral)
    }
}
