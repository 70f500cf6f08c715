import EvaldCore
import EvaldHTTP
import EvaldJudge
import Foundation

/// `evald check-config --probe`: one tiny request to each configured endpoint, with its key,
/// its timeout and no retry, to tell before a deployment whether the endpoint answers.
public enum EndpointProbe {
    public struct Result: Sendable, Equatable {
        public var endpoint: String
        public var ok: Bool
        /// For a person: "ok in 0.42 s, answered by gpt-4o-mini-2024-07-18" or the failure's cause.
        public var detail: String
    }

    /// A prompt that costs a few tokens and that any chat model answers.
    static let prompt = #"Reply with the JSON object {"ok": true} and nothing else."#

    public static func run(
        config: EvaldConfig, transport: HTTPTransport, environment: [String: String] = ProcessInfo.processInfo.environment
    ) async -> [Result] {
        let configDirectory = (config.sourcePath as NSString).deletingLastPathComponent
        var results: [Result] = []
        for (name, endpoint) in config.endpoints.sorted(by: { $0.key < $1.key }) {
            let key: Secret?
            do {
                key = try SecretLoader.load(
                    env: endpoint.apiKeyEnv, file: endpoint.apiKeyFile,
                    key: "endpoints.\(name).\(endpoint.apiKeyEnv != nil ? "api_key_env" : "api_key_file")",
                    configDirectory: configDirectory, environment: environment)
            } catch {
                results.append(Result(endpoint: name, ok: false, detail: "not probed: \(error.message)"))
                continue
            }
            var once = endpoint
            once.maxRetries = 0
            let client = JudgeEndpointClient(endpoint: once, apiKey: key, transport: transport, retry: RetryPolicy(maxRetries: 0))
            let started = ContinuousClock.now
            do {
                let completion = try await client.complete(JudgeRequest(prompt: prompt, temperature: 0, maxOutputTokens: 16))
                let (seconds, attoseconds) = (ContinuousClock.now - started).components
                let elapsed = Double(seconds) + Double(attoseconds) / 1e18
                var detail = String(format: "ok in %.2f s", elapsed)
                if let model = completion.responseModel { detail += ", answered by \(model)" }
                if completion.text.isEmpty { detail += " (an empty reply: check the model)" }
                if elapsed > endpoint.timeout / 2 {
                    detail += "; slow: more than half of endpoints.\(name).timeout (\(ConfigDuration.format(endpoint.timeout))) for a tiny prompt"
                }
                results.append(Result(endpoint: name, ok: true, detail: detail))
            } catch {
                results.append(Result(endpoint: name, ok: false, detail: error.cause.map { "\($0): \(error.message)" } ?? error.message))
            }
        }
        return results
    }
}
