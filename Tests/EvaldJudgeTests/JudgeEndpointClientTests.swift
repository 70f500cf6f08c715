import EvaldHTTP
import EvaldTesting
import Foundation
import Testing

@testable import EvaldCore
@testable import EvaldJudge

@Suite struct JudgeEndpointClientTests {
    @Test func openAIAnswerIsParsedAndTheRequestHasTheAPIShape() async throws {
        try await withStubJudge { stub, transport in
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.openai, baseURL: stub.baseURL + "/v1", model: "gpt-4o", jsonMode: true),
                apiKey: Secret(testAPIKey), transport: transport)
            let completion = try await client.complete(sampleRequest)

            #expect(completion.text == #"{"score": 4, "reason": "fine"}"#)
            #expect(completion.inputTokens == sampleRequest.prompt.count / 4)
            #expect(completion.outputTokens == completion.text.count / 4)
            #expect(completion.responseModel == "gpt-4o")
            #expect(completion.systemFingerprint == "fp_stub0001")
            #expect(completion.finishReason == "stop")
            #expect(completion.attempts == 1)
            #expect(completion.latencyMs > 0)

            let request = try #require(stub.requests.first)
            #expect(request.method == "POST")
            #expect(request.path == "/v1/chat/completions")
            #expect(request.header("authorization") == "Bearer \(testAPIKey)")
            #expect(request.header("content-type") == "application/json")
            #expect(request.header("x-api-key") == nil)
            let body = try #require(jsonObject(request.body))
            #expect(body["model"] as? String == "gpt-4o")
            #expect(body["temperature"] as? Double == 0)
            #expect(body["max_tokens"] as? Int == 300)
            #expect((body["response_format"] as? [String: Any])?["type"] as? String == "json_object")
            let messages = try #require(body["messages"] as? [[String: Any]])
            #expect(messages.count == 1)
            #expect(messages.first?["role"] as? String == "user")
            #expect(messages.first?["content"] as? String == sampleRequest.prompt)
            #expect(stub.prompts == [sampleRequest.prompt])
        }
    }

    @Test func openAIWithoutKeyOrJSONModeSendsNeither() async throws {
        try await withStubJudge { stub, transport in
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.openai, baseURL: stub.baseURL + "/"), apiKey: nil, transport: transport)
            _ = try await client.complete(sampleRequest)
            let request = try #require(stub.requests.first)
            #expect(request.path == "/chat/completions")
            #expect(request.header("authorization") == nil)
            #expect(jsonObject(request.body)?["response_format"] == nil)
        }
    }

    @Test func anthropicAnswerIsParsedAndTheRequestHasTheAPIShape() async throws {
        try await withStubJudge { stub, transport in
            stub.responseModel = "claude-sonnet-4-5-20250929"
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.anthropic, baseURL: stub.baseURL, model: "claude-sonnet-4-5", jsonMode: true),
                apiKey: Secret(testAPIKey), transport: transport)
            let completion = try await client.complete(JudgeRequest(prompt: "Rate it", temperature: 0.5, maxOutputTokens: 64))

            #expect(completion.text == #"{"score": 4, "reason": "fine"}"#)
            #expect(completion.inputTokens == 1)
            #expect(completion.outputTokens == completion.text.count / 4)
            #expect(completion.responseModel == "claude-sonnet-4-5-20250929")
            #expect(completion.systemFingerprint == nil)
            #expect(completion.finishReason == "end_turn")

            let request = try #require(stub.requests.first)
            #expect(request.path == "/v1/messages")
            #expect(request.header("x-api-key") == testAPIKey)
            #expect(request.header("anthropic-version") == "2023-06-01")
            #expect(request.header("authorization") == nil)
            let body = try #require(jsonObject(request.body))
            #expect(body["model"] as? String == "claude-sonnet-4-5")
            #expect(body["max_tokens"] as? Int == 64)
            #expect(body["temperature"] as? Double == 0.5)
            #expect(body["response_format"] == nil)
            let messages = try #require(body["messages"] as? [[String: Any]])
            #expect(messages.first?["role"] as? String == "user")
            #expect(messages.first?["content"] as? String == "Rate it")
        }
    }

    @Test func anthropicBaseURLEndingInV1IsNotDoubled() async throws {
        try await withStubJudge { stub, transport in
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.anthropic, baseURL: stub.baseURL + "/v1/"), apiKey: nil, transport: transport)
            _ = try await client.complete(sampleRequest)
            #expect(stub.requests.map(\.path) == ["/v1/messages"])
        }
    }

    @Test func urlsKeepTheBaseURLsQuery() {
        #expect(
            OpenAIChatFormat().url(baseURL: "https://gw.example/openai/v1?api-version=2024-06-01")
                == "https://gw.example/openai/v1/chat/completions?api-version=2024-06-01")
        #expect(AnthropicMessagesFormat().url(baseURL: "https://api.anthropic.com") == "https://api.anthropic.com/v1/messages")
        #expect(AnthropicMessagesFormat().url(baseURL: "https://proxy.example/v1?x=1") == "https://proxy.example/v1/messages?x=1")
    }

    @Test func repliesOfOtherServersAreRead() throws {
        // Content as a list of parts and float token counts (some compatible servers).
        let parts =
            #"{"choices":[{"message":{"content":[{"type":"text","text":"{\"score\":"},{"type":"text","text":"3}"}]}}],"usage":{"prompt_tokens":12.0,"completion_tokens":3}}"#
        let reply = try OpenAIChatFormat().parse(Array(parts.utf8))
        #expect(reply.text == #"{"score":3}"#)
        #expect(reply.inputTokens == 12)
        #expect(reply.model == nil)
        // No usage at all (llama.cpp without it): zero tokens, not an error.
        let bare = try OpenAIChatFormat().parse(Array(#"{"choices":[{"message":{"content":"hi"}}]}"#.utf8))
        #expect(bare.inputTokens == 0 && bare.outputTokens == 0)
        // Anthropic: only text blocks count.
        let blocks =
            #"{"type":"message","content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"a"},{"type":"text","text":"b"}],"usage":{"input_tokens":5,"output_tokens":2}}"#
        #expect(try AnthropicMessagesFormat().parse(Array(blocks.utf8)).text == "ab")
    }

    /// A replayed answer is scored on its tool calls too (red-team `no_forbidden_tool_call`, the
    /// `tool_calls` and `canary` checks), so the client keeps them.
    @Test func toolCallsOfAReplyAreKept() throws {
        // OpenAI: content null, arguments as the model wrote them; an object (some servers)
        // serialized; an entry that is not a function call skipped.
        let openAI =
            #"{"choices":[{"message":{"content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"issue_refund","arguments":"{\"order\": \"A-1\"}"}},{"id":"c2","type":"function","function":{"name":"lookup_order","arguments":{"id":"A-2","n":3}}},{"id":"c3","type":"web_search"}]},"finish_reason":"tool_calls"}]}"#
        let reply = try OpenAIChatFormat().parse(Array(openAI.utf8))
        #expect(reply.text == "")
        #expect(
            reply.toolCalls == [
                TraceRecord.ToolCall(name: "issue_refund", arguments: #"{"order": "A-1"}"#),
                TraceRecord.ToolCall(name: "lookup_order", arguments: #"{"id":"A-2","n":3}"#),
            ])
        #expect(try OpenAIChatFormat().parse(Array(#"{"choices":[{"message":{"content":"hi"}}]}"#.utf8)).toolCalls.isEmpty)
        // Anthropic: tool_use blocks, their input object as the arguments.
        let anthropic =
            #"{"type":"message","content":[{"type":"text","text":"On it."},{"type":"tool_use","id":"t1","name":"issue_refund","input":{"order":"A-1"}}],"stop_reason":"tool_use"}"#
        let message = try AnthropicMessagesFormat().parse(Array(anthropic.utf8))
        #expect(message.text == "On it.")
        #expect(message.toolCalls == [TraceRecord.ToolCall(name: "issue_refund", arguments: #"{"order":"A-1"}"#)])
    }

    /// A replayed golden case's tools go out in each API's shape; a judge request has none.
    @Test func offeredToolsAreSentInEachAPIsShape() throws {
        let schema = JSONValue.object([("type", .string("object")), ("properties", .object([("order", .object([("type", .string("string"))]))]))])
        let request = JudgeRequest(
            messages: [.init(role: "user", content: "refund me")], temperature: 0, maxOutputTokens: 64,
            tools: [ToolDefinition(name: "issue_refund", description: "Refund an order", parameters: schema), ToolDefinition(name: "lookup_order")])
        let openAI = try #require(jsonObject(OpenAIChatFormat().body(for: request, model: "m", jsonMode: false)))
        let tools = try #require(openAI["tools"] as? [[String: Any]])
        #expect(tools.map { $0["type"] as? String } == ["function", "function"])
        let first = try #require(tools.first?["function"] as? [String: Any])
        #expect(first["name"] as? String == "issue_refund" && first["description"] as? String == "Refund an order")
        #expect(((first["parameters"] as? [String: Any])?["properties"] as? [String: Any])?["order"] != nil)
        #expect(((tools.last?["function"] as? [String: Any])?["parameters"] as? [String: Any])?["type"] as? String == "object")
        let anthropic = try #require(jsonObject(AnthropicMessagesFormat().body(for: request, model: "m", jsonMode: false)))
        let blocks = try #require(anthropic["tools"] as? [[String: Any]])
        #expect(blocks.map { $0["name"] as? String } == ["issue_refund", "lookup_order"])
        #expect((blocks.first?["input_schema"] as? [String: Any])?["type"] as? String == "object")
        #expect(jsonObject(OpenAIChatFormat().body(for: sampleRequest, model: "m", jsonMode: false))?["tools"] == nil)
        #expect(jsonObject(AnthropicMessagesFormat().body(for: sampleRequest, model: "m", jsonMode: false))?["tools"] == nil)
    }

    @Test func theClientReturnsTheToolCallsOfBothAPIs() async throws {
        for kind in [EndpointConfig.Kind.openai, .anthropic] {
            try await withStub({
                try await StubJudgeServer.start(answering: { _ in
                    StubJudgeServer.Answer(toolCalls: [(name: "issue_refund", arguments: #"{"order":"A-10442"}"#)])
                })
            }) { stub, transport in
                let client = JudgeEndpointClient(endpoint: makeEndpoint(kind, baseURL: baseURL(kind, stub)), apiKey: nil, transport: transport)
                let completion = try await client.complete(sampleRequest)
                #expect(completion.toolCalls == [TraceRecord.ToolCall(name: "issue_refund", arguments: #"{"order":"A-10442"}"#)], "\(kind)")
            }
        }
    }

    @Test(arguments: [
        (#"{"choices":[]}"#, "choices is empty"),
        (#"{"id":"x"}"#, "choices is missing"),
        (#"{"choices":[{"index":0}]}"#, "choices[0].message is missing"),
        ("<html>gateway</html>", "not JSON"),
        (#"{"choices":"many"}"#, "choices has the wrong type"),
    ])
    func malformedOpenAIRepliesSayWhatIsWrong(body: String, reason: String) {
        #expect(throws: MalformedReply.self) { try OpenAIChatFormat().parse(Array(body.utf8)) }
        do {
            _ = try OpenAIChatFormat().parse(Array(body.utf8))
        } catch {
            #expect(error.reason == reason)
        }
    }

    @Test func aMalformedSuccessIsABadResponseAndNotRetried() async throws {
        for kind in [EndpointConfig.Kind.openai, .anthropic] {
            try await withStubJudge { stub, transport in
                stub.enqueue([.malformedJSON])
                let sleeps = SleepRecorder()
                let client = JudgeEndpointClient(
                    endpoint: makeEndpoint(kind, baseURL: baseURL(kind, stub)), apiKey: Secret(testAPIKey),
                    transport: transport, sleep: sleeps.sleep)
                let error = try #require(await judgeError(client))
                #expect(error.kind == .badResponse)
                #expect(error.attempts == 1)
                #expect(error.status == 200)
                #expect(!error.isTransient)
                #expect(error.message.contains("not JSON") || error.message.contains("malformed"))
                #expect(stub.requests.count == 1)
                #expect(sleeps.recorded.isEmpty)
                #expect(client.circuit == .closed)
            }
        }
    }
}
