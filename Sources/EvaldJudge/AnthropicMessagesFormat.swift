import EvaldCore
import EvaldHTTP
import Foundation

/// The Anthropic Messages API.
struct AnthropicMessagesFormat: JudgeWireFormat {
    /// The API version the request and reply shapes below follow.
    static let apiVersion = "2023-06-01"

    var replyName: String { "an Anthropic message" }

    /// `{base_url}/v1/messages`, without doubling a `/v1` the base URL already ends with.
    func url(baseURL: String) -> String {
        var head = baseURL.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? baseURL
        while head.hasSuffix("/") { head.removeLast() }
        return Self.join(baseURL, head.hasSuffix("/v1") ? "/messages" : "/v1/messages")
    }

    func headers(apiKey: Secret?) -> [(name: String, value: String)] {
        var headers = [
            (name: "Content-Type", value: "application/json"), (name: "Accept", value: "application/json"),
            (name: "anthropic-version", value: Self.apiVersion),
        ]
        if let apiKey { headers.append((name: "x-api-key", value: apiKey.value)) }
        return headers
    }

    func body(for request: JudgeRequest, model: String, jsonMode: Bool) -> [UInt8] {
        // The Messages API has no JSON mode; the rubric's prompt asks for JSON instead.
        // System messages go in the top-level `system` field; the Messages API takes only
        // user and assistant turns.
        let system = request.messages.filter { $0.role == "system" }.map(\.content)
        return Self.encode(
            Body(
                model: model, maxTokens: request.maxOutputTokens, temperature: request.temperature,
                system: system.isEmpty ? nil : system.joined(separator: "\n\n"),
                messages: request.messages.filter { $0.role != "system" }.map {
                    .init(role: $0.role == "assistant" ? "assistant" : "user", content: $0.content)
                },
                tools: request.tools.isEmpty
                    ? nil
                    : request.tools.map {
                        .init(name: $0.name, description: $0.description, inputSchema: $0.parameters.map(EncodedJSON.init) ?? .openObject)
                    }))
    }

    func parse(_ body: [UInt8]) throws(MalformedReply) -> WireReply {
        let reply = try Self.decode(Reply.self, from: body)
        if reply.type == "error" { throw MalformedReply(reason: "the body is an error object") }
        guard let content = reply.content else { throw MalformedReply(reason: "content is missing") }
        return WireReply(
            text: content.filter { $0.type == "text" }.compactMap(\.text).joined(),
            inputTokens: reply.usage?.inputTokens?.value ?? 0,
            outputTokens: reply.usage?.outputTokens?.value ?? 0,
            model: reply.model, systemFingerprint: nil, finishReason: reply.stopReason,
            toolCalls: content.filter { $0.type == "tool_use" }.compactMap { block in
                block.name.map { TraceRecord.ToolCall(name: $0, arguments: OpenAIToolCall.text(block.input?.value)) }
            })
    }

    private struct Body: Encodable {
        struct Message: Encodable {
            var role: String
            var content: String
        }

        var model: String
        var maxTokens: Int
        var temperature: Double
        struct Tool: Encodable {
            var name: String
            var description: String?
            var inputSchema: EncodedJSON

            enum CodingKeys: String, CodingKey {
                case name, description
                case inputSchema = "input_schema"
            }
        }

        var system: String?
        var messages: [Message]
        var tools: [Tool]?

        enum CodingKeys: String, CodingKey {
            case model, temperature, messages, system, tools
            case maxTokens = "max_tokens"
        }
    }

    private struct Reply: Decodable {
        struct Block: Decodable {
            var type: String
            var text: String?
            /// A `tool_use` block's tool and its arguments (an object).
            var name: String?
            var input: DecodedJSON?
        }

        struct Usage: Decodable {
            var inputTokens: TokenCount?
            var outputTokens: TokenCount?

            enum CodingKeys: String, CodingKey {
                case inputTokens = "input_tokens"
                case outputTokens = "output_tokens"
            }
        }

        var type: String?
        var content: [Block]?
        var model: String?
        var stopReason: String?
        var usage: Usage?

        enum CodingKeys: String, CodingKey {
            case type, content, model, usage
            case stopReason = "stop_reason"
        }
    }
}
