import EvaldHTTP
import Foundation

/// The OpenAI chat completions API, also spoken by Azure OpenAI-compatible gateways,
/// vLLM, Ollama, llama.cpp server and LiteLLM.
struct OpenAIChatFormat: JudgeWireFormat {
    var replyName: String { "an OpenAI chat completion" }

    func url(baseURL: String) -> String { Self.join(baseURL, "/chat/completions") }

    func headers(apiKey: Secret?) -> [(name: String, value: String)] {
        var headers = [(name: "Content-Type", value: "application/json"), (name: "Accept", value: "application/json")]
        // Local servers (Ollama, llama.cpp) need no key: no header at all rather than an empty one.
        if let apiKey { headers.append((name: "Authorization", value: "Bearer \(apiKey.value)")) }
        return headers
    }

    func body(for request: JudgeRequest, model: String, jsonMode: Bool) -> [UInt8] {
        Self.encode(
            Body(
                model: model, messages: request.messages.map { .init(role: $0.role, content: $0.content) },
                temperature: request.temperature, maxTokens: request.maxOutputTokens,
                responseFormat: jsonMode ? .init(type: "json_object") : nil,
                tools: request.tools.isEmpty
                    ? nil
                    : request.tools.map {
                        .init(
                            function: .init(
                                name: $0.name, description: $0.description, parameters: $0.parameters.map(EncodedJSON.init) ?? .openObject))
                    }))
    }

    func parse(_ body: [UInt8]) throws(MalformedReply) -> WireReply {
        let reply = try Self.decode(Reply.self, from: body)
        guard let choices = reply.choices else { throw MalformedReply(reason: "choices is missing") }
        guard let first = choices.first else { throw MalformedReply(reason: "choices is empty") }
        guard let message = first.message else { throw MalformedReply(reason: "choices[0].message is missing") }
        // A refusal comes with a null content; its text still goes to the reply parser,
        // which records it as a judge_error rather than a score.
        return WireReply(
            text: message.content?.text ?? message.refusal ?? "",
            inputTokens: reply.usage?.promptTokens?.value ?? 0,
            outputTokens: reply.usage?.completionTokens?.value ?? 0,
            model: reply.model, systemFingerprint: reply.systemFingerprint, finishReason: first.finishReason,
            toolCalls: (message.toolCalls ?? []).compactMap(\.toolCall))
    }

    private struct Body: Encodable {
        struct Message: Encodable {
            var role: String
            var content: String
        }

        struct ResponseFormat: Encodable {
            var type: String
        }

        struct Tool: Encodable {
            struct Function: Encodable {
                var name: String
                var description: String?
                var parameters: EncodedJSON
            }

            var type = "function"
            var function: Function
        }

        var model: String
        var messages: [Message]
        var temperature: Double
        var maxTokens: Int
        var responseFormat: ResponseFormat?
        var tools: [Tool]?

        enum CodingKeys: String, CodingKey {
            case model, messages, temperature, tools
            case maxTokens = "max_tokens"
            case responseFormat = "response_format"
        }
    }

    private struct Reply: Decodable {
        struct Choice: Decodable {
            var message: Message?
            var finishReason: String?

            enum CodingKeys: String, CodingKey {
                case message
                case finishReason = "finish_reason"
            }
        }

        struct Message: Decodable {
            var content: Content?
            var refusal: String?
            var toolCalls: [OpenAIToolCall]?

            enum CodingKeys: String, CodingKey {
                case content, refusal
                case toolCalls = "tool_calls"
            }
        }

        /// A string, or (some compatible servers) a list of `{"type":"text","text":...}` parts.
        struct Content: Decodable {
            var text: String

            private struct Part: Decodable {
                var type: String?
                var text: String?
            }

            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let text = try? container.decode(String.self) {
                    self.text = text
                } else {
                    let parts = try container.decode([Part].self)
                    text = parts.filter { ($0.type ?? "text") == "text" }.compactMap(\.text).joined()
                }
            }
        }

        struct Usage: Decodable {
            var promptTokens: TokenCount?
            var completionTokens: TokenCount?

            enum CodingKeys: String, CodingKey {
                case promptTokens = "prompt_tokens"
                case completionTokens = "completion_tokens"
            }
        }

        var model: String?
        var systemFingerprint: String?
        var choices: [Choice]?
        var usage: Usage?

        enum CodingKeys: String, CodingKey {
            case model, choices, usage
            case systemFingerprint = "system_fingerprint"
        }
    }
}
