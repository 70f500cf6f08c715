import EvaldCore
import EvaldHTTP
import EvaldJudge
import Foundation

/// Sends golden cases' conversations to an endpoint and returns the cases answered anew: what
/// the canary does every `golden.canary.every`, and `evald gate --replay` does once.
public enum GoldenReplayer {
    public struct Reply: Sendable {
        public var `case`: GoldenCase
        /// The provider's model version of the answer (response model, system fingerprint).
        public var version: String?
    }

    /// The client for endpoint `name` of the config, with its key loaded.
    static func client(
        endpoint name: String, config: EvaldConfig, transport: HTTPTransport, environment: [String: String]
    ) throws
        -> JudgeEndpointClient
    {
        guard let endpoint = config.endpoints[name] else {
            throw GoldenReplayError(
                description: "unknown endpoint \"\(name)\"; define it under endpoints (known: \(config.endpoints.keys.sorted().joined(separator: ", ")))")
        }
        let key = try SecretLoader.load(
            env: endpoint.apiKeyEnv, file: endpoint.apiKeyFile,
            key: "endpoints.\(name).\(endpoint.apiKeyEnv != nil ? "api_key_env" : "api_key_file")",
            configDirectory: (config.sourcePath as NSString).deletingLastPathComponent, environment: environment)
        return JudgeEndpointClient(endpoint: endpoint, apiKey: key, transport: transport, retry: RetryPolicy(maxRetries: endpoint.maxRetries))
    }

    /// The cases answered by endpoint `name` of the config (its key loaded as the canary loads it).
    public static func answer(
        _ cases: [GoldenCase], endpoint name: String, config: EvaldConfig, transport: HTTPTransport, environment: [String: String],
        maxOutputTokens: Int = 1_024
    ) async throws -> [Reply] {
        // The conversations are the input; the data-handling policy decides whether it may leave.
        guard config.judge.send.contains(.input) else {
            throw GoldenReplayError(
                description:
                    "replay sends the cases' conversations to endpoint \"\(name)\", and judge.send does not let input leave evald; add input to judge.send to replay"
            )
        }
        let target = try client(endpoint: name, config: config, transport: transport, environment: environment)
        return await answer(cases, with: target, maxOutputTokens: maxOutputTokens)
    }

    /// Each case's conversation sent to the target, in case order. The client keeps to the
    /// endpoint's `concurrency` (a permit per attempt), so all cases are handed to it at once.
    /// A failed call leaves the case as an error (`status: error`) with the cause.
    public static func answer(_ cases: [GoldenCase], with target: JudgeEndpointClient, maxOutputTokens: Int) async -> [Reply] {
        await withTaskGroup(of: (Int, Reply).self) { group in
            for (index, golden) in cases.enumerated() {
                group.addTask {
                    let messages = golden.record.input.map { JudgeRequest.Message(role: $0.role, content: $0.content) }
                    guard !messages.isEmpty else {
                        return (index, Reply(case: golden.answered(output: "", status: .error, error: "the case has no input to replay"), version: nil))
                    }
                    do {
                        let completion = try await target.complete(
                            JudgeRequest(messages: messages, temperature: 0, maxOutputTokens: maxOutputTokens, tools: golden.tools))
                        return (
                            index,
                            Reply(
                                case: golden.answered(
                                    output: completion.text, toolCalls: completion.toolCalls, latencyMs: completion.latencyMs,
                                    inputTokens: completion.inputTokens, outputTokens: completion.outputTokens),
                                version: ProviderVersionWatch.version(
                                    responseModel: completion.responseModel,
                                    systemFingerprint: completion.systemFingerprint))
                        )
                    } catch {
                        return (index, Reply(case: golden.answered(output: "", status: .error, error: "\(error)"), version: nil))
                    }
                }
            }
            var replies = [Reply?](repeating: nil, count: cases.count)
            for await (index, reply) in group { replies[index] = reply }
            return replies.map { $0! }
        }
    }
}

public struct GoldenReplayError: Error, CustomStringConvertible {
    public var description: String
}
