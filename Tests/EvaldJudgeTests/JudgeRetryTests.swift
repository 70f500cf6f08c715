import EvaldHTTP
import EvaldTesting
import Foundation
import Testing

@testable import EvaldCore
@testable import EvaldJudge

/// Retries against the real stub on 127.0.0.1, with the backoff sleeps recorded instead of slept.
@Suite struct JudgeRetryTests {
    static let kinds: [EndpointConfig.Kind] = [.openai, .anthropic]

    @Test(arguments: kinds)
    func aSlowAnswerBeyondTheTimeoutIsRetried(kind: EndpointConfig.Kind) async throws {
        // withStub runs the test off the cooperative pool: with a 1 s timeout, each attempt's
        // request and timer must not wait in the pool's queue behind synchronous (SQLite) tests.
        try await withStubJudge { stub, transport in
            stub.enqueue([.slow(60, "too late")])
            let sleeps = SleepRecorder()
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(kind, baseURL: baseURL(kind, stub), timeout: 1), apiKey: nil,
                transport: transport, sleep: sleeps.sleep, random: SeededRandom().next)
            let completion = try await client.complete(sampleRequest)
            // Two attempts, unless a loaded machine also made the second miss its 1 s.
            #expect(completion.attempts >= 2)
            #expect(completion.text.contains("score"))
            #expect(sleeps.recorded.count == completion.attempts - 1)
            // An attempt that timed out on a loaded machine before its request reached the stub is
            // not recorded there; every recorded one was an attempt.
            #expect(stub.requests.count >= 2 && stub.requests.count <= completion.attempts)
        }
    }

    @Test(arguments: kinds)
    func tooManyRequestsWaitsForRetryAfter(kind: EndpointConfig.Kind) async throws {
        try await withStubJudge { stub, transport in
            stub.enqueue([.tooManyRequests(retryAfter: "2")])
            let sleeps = SleepRecorder()
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(kind, baseURL: baseURL(kind, stub)), apiKey: nil, transport: transport,
                sleep: sleeps.sleep, random: SeededRandom().next)
            let completion = try await client.complete(sampleRequest)
            #expect(completion.attempts == 2)
            #expect(sleeps.recorded == [2])
        }
    }

    @Test(arguments: kinds)
    func serverErrorsAreRetriedWithGrowingBackoff(kind: EndpointConfig.Kind) async throws {
        try await withStubJudge { stub, transport in
            stub.enqueue([.serverError(500), .serverError(502), .serverError(503)])
            let sleeps = SleepRecorder()
            // A fixed draw shows the ceiling doubling: 0.5 s, 1 s, 2 s (halved by the draw).
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(kind, baseURL: baseURL(kind, stub), maxRetries: 3), apiKey: nil,
                transport: transport, sleep: sleeps.sleep, random: { 0.5 })
            let completion = try await client.complete(sampleRequest)
            #expect(completion.attempts == 4)
            #expect(sleeps.recorded == [0.25, 0.5, 1.0])
        }
    }

    @Test func seededJitterStaysUnderEachCeiling() async throws {
        try await withStubJudge { stub, transport in
            stub.enqueue([.serverError(500), .serverError(500), .serverError(500), .status(408)])
            let sleeps = SleepRecorder()
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.openai, baseURL: stub.baseURL, maxRetries: 4), apiKey: nil,
                transport: transport, sleep: sleeps.sleep, random: SeededRandom(seed: 7).next)
            _ = try await client.complete(sampleRequest)
            #expect(sleeps.recorded.count == 4)
            for (index, delay) in sleeps.recorded.enumerated() {
                #expect(delay >= 0 && delay < 0.5 * pow(2, Double(index)))
            }
        }
    }

    @Test(arguments: kinds)
    func retriesExhaustedAfterMaxRetriesPlusOneAttempts(kind: EndpointConfig.Kind) async throws {
        try await withStubJudge { stub, transport in
            stub.enqueue([.serverError(503), .serverError(503), .serverError(503)])
            let sleeps = SleepRecorder()
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(kind, baseURL: baseURL(kind, stub), maxRetries: 2), apiKey: Secret(testAPIKey),
                transport: transport, sleep: sleeps.sleep, random: SeededRandom().next)
            let error = try #require(await judgeError(client))
            #expect(error.kind == .retriesExhausted)
            #expect(error.attempts == 3)
            #expect(error.status == 503)
            #expect(error.isTransient)
            #expect(error.message.contains("gave up after 3 attempts"))
            #expect(error.message.contains("HTTP 503"))
            #expect(stub.requests.count == 3)
            #expect(sleeps.recorded.count == 2)
        }
    }

    @Test(arguments: [400, 401, 403, 404, 422])
    func otherClientErrorsAreRejectedAfterOneAttempt(status: Int) async throws {
        try await withStubJudge { stub, transport in
            stub.enqueue([.status(status)])
            let sleeps = SleepRecorder()
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.openai, baseURL: stub.baseURL), apiKey: Secret(testAPIKey), transport: transport,
                sleep: sleeps.sleep)
            let error = try #require(await judgeError(client))
            #expect(error.kind == .rejected)
            #expect(error.attempts == 1)
            #expect(error.status == status)
            #expect(error.message.contains("HTTP \(status)"))
            #expect(error.message.contains("request refused"))
            // A bad key or a wrong model fails every trace alike: those wait for a fix.
            #expect(error.isTransient == [401, 403, 404].contains(status))
            #expect(stub.requests.count == 1)
            #expect(sleeps.recorded.isEmpty)
        }
    }

    @Test(arguments: kinds)
    func aClosedConnectionIsRetried(kind: EndpointConfig.Kind) async throws {
        try await withStubJudge { stub, transport in
            stub.enqueue([.closeConnection])
            let sleeps = SleepRecorder()
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(kind, baseURL: baseURL(kind, stub)), apiKey: nil, transport: transport,
                sleep: sleeps.sleep, random: SeededRandom().next)
            let completion = try await client.complete(sampleRequest)
            #expect(completion.attempts == 2)
            #expect(stub.requests.count == 2)
        }
    }

    @Test func aRefusedConnectionIsRetriedThenExhausted() async throws {
        let transport = HTTPTransport()
        let sleeps = SleepRecorder()
        // Port 1 on the loopback: nothing listens there.
        let client = JudgeEndpointClient(
            endpoint: makeEndpoint(.openai, baseURL: "http://127.0.0.1:1/v1", maxRetries: 1), apiKey: nil,
            transport: transport, sleep: sleeps.sleep, random: SeededRandom().next)
        let error = await judgeError(client)
        try await transport.shutdown()
        #expect(error?.kind == .retriesExhausted)
        #expect(error?.attempts == 2)
        #expect(error?.status == nil)
        #expect(error?.message.contains("could not connect") == true)
    }

    @Test func anInvalidBaseURLIsRejectedWithoutEchoingIt() async throws {
        let transport = HTTPTransport()
        let client = JudgeEndpointClient(
            endpoint: makeEndpoint(.openai, baseURL: "gw.internal/v1?key=hunter2"), apiKey: nil, transport: transport)
        let error = await judgeError(client)
        try await transport.shutdown()
        #expect(error?.kind == .rejected)
        #expect(error?.attempts == 1)
        #expect(error?.isTransient == true)
        #expect(error.map { !$0.description.contains("hunter2") } == true)
    }

    @Test func cancellationDuringBackoffEndsTheCallPromptly() async throws {
        try await withStubJudge { stub, transport in
            stub.enqueue([.tooManyRequests(retryAfter: "100")])
            // The real sleep: the call would wait 100 s unless cancellation stops it.
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.openai, baseURL: stub.baseURL), apiKey: nil, transport: transport)
            let started = ContinuousClock.now
            let call = testTask { await judgeError(client) }
            try await waitUntil { stub.requests.count == 1 }
            try await Task.sleep(nanoseconds: 50_000_000)
            call.cancel()
            let error = await call.value
            #expect(error?.kind == .cancelled)
            #expect(error?.attempts == 1)
            #expect(error?.isTransient == true)
            #expect(ContinuousClock.now - started < .seconds(60))
        }
    }

    @Test func cancellationDuringARequestEndsTheCallPromptly() async throws {
        try await withStubJudge { stub, transport in
            stub.enqueue([.hang])
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.anthropic, baseURL: stub.baseURL, timeout: 600), apiKey: nil, transport: transport)
            let started = ContinuousClock.now
            let call = testTask { await judgeError(client) }
            try await waitUntil { stub.requests.count == 1 }
            call.cancel()
            let error = await call.value
            #expect(error?.kind == .cancelled)
            // Far below the 600 s request timeout it would otherwise wait for; the margin is for
            // a loaded machine, where this test can wait many seconds for a thread.
            #expect(ContinuousClock.now - started < .seconds(120))
        }
    }

    @Test func aCancelledTaskSendsNothing() async throws {
        try await withStubJudge { stub, transport in
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.openai, baseURL: stub.baseURL), apiKey: nil, transport: transport)
            let call = testTask {
                withUnsafeCurrentTask { $0?.cancel() }
                return await judgeError(client)
            }
            let error = await call.value
            #expect(error?.kind == .cancelled)
            #expect(error?.attempts == 0)
            #expect(stub.requests.isEmpty)
        }
    }
}

/// Polls (every 10 ms, up to `timeout` seconds) until `condition` holds.
func waitUntil(timeout: Double = 30, _ condition: @Sendable () -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within \(timeout) s")
            return
        }
        try await Task.sleep(nanoseconds: 10_000_000)
    }
}
