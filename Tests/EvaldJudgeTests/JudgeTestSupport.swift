import EvaldHTTP
import EvaldTesting
import Foundation
import NIOConcurrencyHelpers

@testable import EvaldCore
@testable import EvaldJudge

/// A key that looks real, to check it never leaks into errors.
let testAPIKey = "sk-test-Qm9vYmFyQmF6MTIzNDU2Nzg5MEFCQ0RFRg"

/// Timeouts are long unless a test is about them: `swift test` runs every target in one
/// process on a small cooperative pool, and other targets' blocking work can hold it for
/// seconds, which a short deadline would report as a timeout.
func makeEndpoint(
    _ kind: EndpointConfig.Kind, baseURL: String, model: String = "judge-model", timeout: Double = 30,
    maxRetries: Int = 3, concurrency: Int = 4, jsonMode: Bool = false
) -> EndpointConfig {
    EndpointConfig(
        name: "default", kind: kind, baseURL: baseURL, model: model, concurrency: concurrency, timeout: timeout,
        jsonMode: jsonMode, maxRetries: maxRetries)
}

/// The base URL as an operator writes it for each API: with /v1 for OpenAI, without for Anthropic.
func baseURL(_ kind: EndpointConfig.Kind, _ stub: StubJudgeServer) -> String {
    kind == .openai ? stub.baseURL + "/v1" : stub.baseURL
}

/// Records the backoff delays a client asks for and returns at once, so retry tests take
/// no time; still throws when the task is cancelled, like `Task.sleep`.
final class SleepRecorder: Sendable {
    private let delays = NIOLockedValueBox<[Double]>([])

    var recorded: [Double] { delays.withLockedValue { $0 } }

    var sleep: @Sendable (Double) async throws -> Void {
        { [delays] seconds in
            delays.withLockedValue { $0.append(seconds) }
            try Task.checkCancellation()
        }
    }
}

/// SplitMix64 shared by concurrent calls.
final class SeededRandom: Sendable {
    private let generator: NIOLockedValueBox<SplitMix64>

    init(seed: UInt64 = 42) { generator = NIOLockedValueBox(SplitMix64(state: seed)) }

    var next: @Sendable () -> Double {
        { [generator] in generator.withLockedValue { Double.random(in: 0..<1, using: &$0) } }
    }
}

/// Calls the client and returns its JudgeCallError, or nil if it succeeded.
func judgeError(_ client: JudgeEndpointClient, _ request: JudgeRequest = sampleRequest) async -> JudgeCallError? {
    do {
        _ = try await client.complete(request)
        return nil
    } catch {
        return error
    }
}

func jsonObject(_ bytes: [UInt8]) -> [String: Any]? {
    try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
}

let sampleRequest = JudgeRequest(prompt: "Grade this answer: the refund was issued.", temperature: 0, maxOutputTokens: 300)
