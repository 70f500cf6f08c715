import EvaldHTTP
import EvaldTesting
import Foundation
import Testing

@testable import EvaldCore
@testable import EvaldJudge

/// Endpoints as real servers misbehave: one slower than the timeout that computes one request at
/// a time (llama.cpp on a CPU), one that refuses connections, one that cuts replies at max_tokens.
@Suite struct SlowEndpointTests {
    @Test func aServerSlowerThanTheTimeoutGetsNoRetryStormAndLessConcurrency() async throws {
        try await withStubJudge { stub, transport in
            stub.serialize = true
            stub.computeSeconds = 0.6
            let sleeps = SleepRecorder()
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.openai, baseURL: stub.baseURL, timeout: 0.4, maxRetries: 3, concurrency: 2), apiKey: nil,
                transport: transport, sleep: sleeps.sleep)
            var kinds: [String] = []
            await withTaskGroup(of: String.self) { group in
                for index in 0..<4 {
                    group.addTask {
                        do {
                            _ = try await client.complete(JudgeRequest(prompt: "trace \(index)", temperature: 0, maxOutputTokens: 10))
                            return "answered"
                        } catch {
                            return (error as? JudgeCallError)?.causeKind ?? "other"
                        }
                    }
                }
                for await kind in group { kinds.append(kind) }
            }
            #expect(kinds.allSatisfy { $0 == "timeout" }, "\(kinds)")
            // 4 calls with 3 retries each could send 16 requests; once timeouts are the server's
            // speed, none is retried.
            #expect(stub.requests.count < 8, "\(stub.requests.count) requests")
            let health = client.health
            #expect(health.isDegraded)
            #expect(health.lastFailure == "timed out after 400ms (endpoints.default.timeout)")
            #expect(client.concurrencyLimit == 1)
            // The breaker is not what paces a slow server: its circuit stays closed.
            #expect(client.circuit == .closed)
        }
    }

    @Test func aRefusedConnectionNamesTheAddress() async throws {
        let refusing = try StubJudgeServer.refusingPort()
        defer { refusing.close() }
        let port = refusing.port
        let transport = HTTPTransport()
        let client = JudgeEndpointClient(
            endpoint: makeEndpoint(.openai, baseURL: "http://127.0.0.1:\(port)/v1", maxRetries: 0), apiKey: nil, transport: transport)
        do {
            _ = try await client.complete(JudgeRequest(prompt: "x", temperature: 0, maxOutputTokens: 10))
            Issue.record("expected a failure")
        } catch {
            #expect(error.cause == "connection refused to 127.0.0.1:\(port)", "\(error)")
            #expect(error.causeKind == "connect_failed")
        }
        #expect(client.health.lastFailure == "connection refused to 127.0.0.1:\(port)")
        try await transport.shutdown()
    }

    @Test func addressesNeverCarryPathQueryOrUserInfo() {
        #expect(JudgeEndpointClient.address(of: "https://user:secret@api.example.com/v1?key=abc") == "api.example.com:443")
        #expect(JudgeEndpointClient.address(of: "http://127.0.0.1:8080/v1") == "127.0.0.1:8080")
        #expect(JudgeEndpointClient.address(of: "http://[::1]:9000") == "[::1]:9000")
    }

    @Test(arguments: [EndpointConfig.Kind.openai, .anthropic])
    func aReplyCutAtMaxTokensCarriesItsFinishReason(_ kind: EndpointConfig.Kind) async throws {
        try await withStubJudge { stub, transport in
            stub.enqueue([.truncated(#"{"score": 4, "reason": "long"}"#, tokens: 2)])
            let client = JudgeEndpointClient(endpoint: makeEndpoint(kind, baseURL: baseURL(kind, stub)), apiKey: nil, transport: transport)
            let completion = try await client.complete(JudgeRequest(prompt: "x", temperature: 0, maxOutputTokens: 2))
            #expect(JudgeReplyParser.isTruncation(completion.finishReason), "\(completion.finishReason ?? "nil")")
            #expect(
                JudgeReplyParser.parse(completion.text, scale: .numeric(min: 1, max: 5), passAt: 4, finishReason: completion.finishReason).failure?.kind
                    == .truncated)
        }
    }

    @Test func aLoweredLimitTakesEffectAsPermitsComeBack() async throws {
        let semaphore = AsyncSemaphore(permits: 2)
        try await semaphore.acquire()
        try await semaphore.acquire()
        semaphore.setLimit(1)
        semaphore.release()
        #expect(semaphore.availablePermits == 0)
        semaphore.release()
        #expect(semaphore.availablePermits == 1)
        semaphore.setLimit(3)
        #expect(semaphore.availablePermits == 3)
    }
}

extension Result {
    var failure: Failure? { if case .failure(let error) = self { return error } else { return nil } }
}
