import EvaldHTTP
import EvaldTesting
import Foundation
import Testing

@testable import EvaldCore
@testable import EvaldJudge

/// Providers and gateways echo keys back in error bodies; none of it may reach an error.
@Suite struct APIKeyRedactionTests {
    /// An OpenAI-style error body that echoes the key in full, masked, and as a header.
    static let echoingBody = Array(
        """
        {"error": {"message": "Incorrect API key provided: \(testAPIKey). You can find your API key at \
        https://platform.openai.com/account/api-keys. Masked: sk-test-Qm9v****RGRg. Header was: Bearer \(testAPIKey)",
        "type": "invalid_request_error", "code": "invalid_api_key"}}
        """.utf8)

    @Test(arguments: [401, 400, 500, 200])
    func theKeyNeverAppearsInAJudgeCallError(status: Int) async throws {
        let body = status == 200 ? Array("<html>\(testAPIKey)</html>".utf8) : Self.echoingBody
        try await withStubServer({ _ in .respond(status: status, body: body) }) { server, transport in
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.openai, baseURL: server.baseURL, maxRetries: 1), apiKey: Secret(testAPIKey),
                transport: transport, sleep: SleepRecorder().sleep)
            let error = try #require(await judgeError(client))
            for text in [error.description, error.message, String(reflecting: error), "\(error)"] {
                #expect(!text.contains(testAPIKey))
                #expect(!text.contains("Qm9v"))
            }
            if status != 200 {
                // What a person needs stays readable.
                #expect(error.message.contains("Incorrect API key provided"))
                #expect(error.message.contains("<redacted>"))
            }
        }
    }

    @Test func theKeyNeverAppearsInTransportOrCircuitErrors() async throws {
        let transport = HTTPTransport()
        let client = JudgeEndpointClient(
            endpoint: makeEndpoint(.anthropic, baseURL: "http://127.0.0.1:1", maxRetries: 0), apiKey: Secret(testAPIKey),
            transport: transport, breaker: CircuitBreakerPolicy(failureThreshold: 1, openFor: 60), sleep: SleepRecorder().sleep)
        let refused = await judgeError(client)
        let open = await judgeError(client)
        try await transport.shutdown()
        #expect(refused?.kind == .retriesExhausted)
        #expect(open?.kind == .circuitOpen)
        for error in [refused, open] {
            #expect(!(error?.description.contains(testAPIKey) ?? true))
        }
    }

    @Test func excerptsAreShortSingleLineAndRedacted() {
        let long = Array(("line one\n\tline two " + String(repeating: "x ", count: 300)).utf8)
        let excerpt = ResponseBodyExcerpt.make(long, credentialTokens: true)
        #expect(!excerpt.contains("\n"))
        #expect(excerpt.hasPrefix("line one line two x"))
        #expect(excerpt.count <= ResponseBodyExcerpt.maxCharacters + 1)

        let keyish = ResponseBodyExcerpt.make(
            Array("token sk-ant-api03-abcdef and Bearer opaque-thing; id 0123456789abcdef0123456789abcdef01".utf8), credentialTokens: true)
        #expect(keyish == "token <redacted> and Bearer <redacted>; id <redacted>")
        #expect(ResponseBodyExcerpt.make(Array("model gpt-4o-mini not found".utf8), credentialTokens: true) == "model gpt-4o-mini not found")
    }
}
