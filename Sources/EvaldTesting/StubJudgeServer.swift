import EvaldHTTP
import Foundation
import NIOConcurrencyHelpers

/// A stub LLM API with both shapes: OpenAI chat completions (`POST /v1/chat/completions`
/// and `/chat/completions`) and Anthropic messages (`POST /v1/messages`). Replies carry
/// usage, model and (OpenAI) system_fingerprint like the real APIs, so judge clients,
/// budgets and drift detection can be tested end to end.
public final class StubJudgeServer: Sendable {
    /// What to do with one request. Queued behaviours are used one per request, in order,
    /// before falling back to the default answer.
    public enum Behaviour: Sendable {
        /// Answer with this reply text.
        case answer(String)
        /// Answer with this reply text after this many seconds.
        case slow(Double, String)
        /// 429, with this Retry-After header when given.
        case tooManyRequests(retryAfter: String?)
        /// A 5xx status with the API's error body.
        case serverError(Int)
        /// 200 with a body that is not the API's JSON.
        case malformedJSON
        /// Close the connection without responding.
        case closeConnection
        /// Any status with the API's error body (e.g. 400, 401).
        case status(Int)
        /// Never respond.
        case hang
        /// Answer with this text cut at `tokens` (about 4 characters each), with
        /// `finish_reason: length` (Anthropic: `stop_reason: max_tokens`).
        case truncated(String, tokens: Int)
    }

    private struct State {
        var queue: [Behaviour] = []
        var delay: Double = 0
        var prompts: [String] = []
        var responseModel: String?
        var systemFingerprint = "fp_stub0001"
        var served = 0
        var completed = 0
        var serialize = false
        var computeSeconds: Double = 0
        var maxTokens: Int?
    }

    private enum Shape { case openai, anthropic }

    private let server: StubHTTPServer
    private let state: NIOLockedValueBox<State>

    private init(server: StubHTTPServer, state: NIOLockedValueBox<State>) {
        self.server = server
        self.state = state
    }

    /// Like llama.cpp's server with one slot: requests are computed one at a time, each taking
    /// `computeSeconds`, in order of arrival; a request whose client gave up (timed out, closed
    /// the connection) is still computed to the end, holding up the ones behind it.
    public var serialize: Bool {
        get { state.withLockedValue { $0.serialize } }
        set { state.withLockedValue { $0.serialize = newValue } }
    }

    /// Seconds each request takes to compute (with `serialize`, one after the other).
    public var computeSeconds: Double {
        get { state.withLockedValue { $0.computeSeconds } }
        set { state.withLockedValue { $0.computeSeconds = newValue } }
    }

    /// Cuts every default answer at this many tokens (about 4 characters each), or at the
    /// request's own `max_tokens` when smaller, and says so (`finish_reason: length`).
    public var maxTokens: Int? {
        get { state.withLockedValue { $0.maxTokens } }
        set { state.withLockedValue { $0.maxTokens = newValue } }
    }

    /// Requests computed to the end (answered, or abandoned by their client after computing).
    public var completedRequests: Int { state.withLockedValue { $0.completed } }

    /// A 127.0.0.1 port with nothing listening: connections to it are refused while the
    /// returned value is held. It stays bound, never listening, until `close()`: a port merely
    /// found free could be given to a server another test starts meanwhile, which would then
    /// receive this test's requests.
    public static func refusingPort() throws -> RefusingPort {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StubError.socket }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        let named = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        guard bound == 0, named == 0 else {
            Glibc.close(fd)
            throw StubError.socket
        }
        return RefusingPort(port: Int(UInt16(bigEndian: address.sin_port)), descriptor: fd)
    }

    /// A port held bound and never listening (see `refusingPort()`).
    public struct RefusingPort: Sendable {
        public let port: Int
        let descriptor: Int32

        /// Frees the port.
        public func close() { Glibc.close(descriptor) }
    }

    public enum StubError: Error { case socket }

    /// A reply with tool calls: OpenAI `tool_calls` (`content` null when the text is empty),
    /// Anthropic `tool_use` blocks after the text.
    public struct Answer: Sendable {
        public var text: String
        /// Each call's function name and its arguments as a JSON string.
        public var toolCalls: [(name: String, arguments: String)]

        public init(text: String = "", toolCalls: [(name: String, arguments: String)] = []) {
            self.text = text
            self.toolCalls = toolCalls
        }
    }

    /// - Parameter defaultAnswer: the reply text for a prompt when no behaviour is queued.
    public static func start(port: Int = 0, default defaultAnswer: @escaping @Sendable (_ prompt: String) -> String) async throws -> StubJudgeServer {
        try await start(port: port, answering: { Answer(text: defaultAnswer($0)) })
    }

    /// - Parameter defaultAnswer: the reply (text and tool calls) for a prompt when no behaviour is queued.
    public static func start(port: Int = 0, answering defaultAnswer: @escaping @Sendable (_ prompt: String) -> Answer) async throws -> StubJudgeServer {
        let state = NIOLockedValueBox(State())
        let slot = StubSlot()
        let server = try await StubHTTPServer.start(port: port) { request in
            let (serialize, compute) = state.withLockedValue { ($0.serialize, $0.computeSeconds) }
            let isAPI = request.path.hasSuffix("/chat/completions") || request.path.hasSuffix("/messages")
            if isAPI, serialize || compute > 0 {
                // Computed to the end whatever the client does meanwhile, as a real server does.
                if serialize { await slot.acquire() }
                if compute > 0 { try? await Task.sleep(nanoseconds: UInt64(compute * 1e9)) }
                if serialize { slot.release() }
            }
            let reply = reply(to: request, state: state, defaultAnswer: defaultAnswer)
            if isAPI { state.withLockedValue { $0.completed += 1 } }
            return reply
        }
        return StubJudgeServer(server: server, state: state)
    }

    public func enqueue(_ behaviours: [Behaviour]) {
        state.withLockedValue { $0.queue.append(contentsOf: behaviours) }
    }

    /// Drops the behaviours not consumed yet: the endpoint "recovers".
    public func clearQueue() {
        state.withLockedValue { $0.queue.removeAll() }
    }

    /// Seconds added before every default answer (the judge benchmark uses 0.2).
    public var delay: Double {
        get { state.withLockedValue { $0.delay } }
        set { state.withLockedValue { $0.delay = newValue } }
    }

    /// The model named in replies; nil (default) echoes the requested model.
    public var responseModel: String? {
        get { state.withLockedValue { $0.responseModel } }
        set { state.withLockedValue { $0.responseModel = newValue } }
    }

    /// OpenAI's `system_fingerprint` in replies: change it to simulate a provider update.
    public var systemFingerprint: String {
        get { state.withLockedValue { $0.systemFingerprint } }
        set { state.withLockedValue { $0.systemFingerprint = newValue } }
    }

    public var port: Int { server.port }
    public var baseURL: String { server.baseURL }
    /// The user content of every API request, in order.
    public var prompts: [String] { state.withLockedValue { $0.prompts } }
    public var requests: [StubHTTPServer.Request] { server.requests }
    public var maxConcurrentRequests: Int { server.maxConcurrentRequests }

    public func stop() async throws {
        try await server.stop()
    }

    private static func reply(
        to request: StubHTTPServer.Request, state: NIOLockedValueBox<State>, defaultAnswer: @Sendable (String) -> Answer
    ) -> StubHTTPServer.Reply {
        let path = request.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.path
        let shape: Shape
        switch path {
        case "/v1/chat/completions", "/chat/completions": shape = .openai
        case "/v1/messages", "/messages": shape = .anthropic
        default: return json(404, error(.openai, status: 404, message: "no route \(path)"))
        }
        guard request.method == "POST" else {
            return json(405, error(shape, status: 405, message: "use POST"))
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
            return json(400, error(shape, status: 400, message: "the body is not a JSON object"))
        }
        let model = object["model"] as? String ?? "unknown"
        let prompt = lastUserContent(object["messages"])
        let requestMaxTokens = object["max_tokens"] as? Int
        let (behaviour, delay, fingerprint, responseModel, sequence, maxTokens) = state.withLockedValue { state in
            state.prompts.append(prompt)
            state.served += 1
            let next = state.queue.isEmpty ? nil : state.queue.removeFirst()
            return (next, state.delay, state.systemFingerprint, state.responseModel, state.served, state.maxTokens)
        }
        let answer = { (reply: Answer, after: Double, cutAt: Int?) -> StubHTTPServer.Reply in
            var text = reply.text
            var cut = false
            if let cutAt, text.count > cutAt * 4 {
                text = String(text.prefix(cutAt * 4))
                cut = true
            }
            let body = completion(
                shape, text: text, toolCalls: reply.toolCalls, prompt: prompt, model: responseModel ?? model,
                fingerprint: fingerprint, sequence: sequence, cut: cut)
            return json(200, body, delay: after)
        }
        let limit = [maxTokens, maxTokens == nil ? nil : requestMaxTokens].compactMap { $0 }.min()
        switch behaviour {
        case nil: return answer(defaultAnswer(prompt), delay, limit)
        case .truncated(let text, let tokens): return answer(Answer(text: text), 0, tokens)
        case .answer(let text): return answer(Answer(text: text), 0, nil)
        case .slow(let seconds, let text): return answer(Answer(text: text), seconds, nil)
        case .tooManyRequests(let retryAfter):
            return json(
                429, error(shape, status: 429, message: "rate limit reached"),
                headers: retryAfter.map { [(name: "Retry-After", value: $0)] } ?? [])
        case .serverError(let status): return json(status, error(shape, status: status, message: "the server had an error"))
        case .status(let status): return json(status, error(shape, status: status, message: "request refused"))
        case .malformedJSON:
            return .respond(status: 200, headers: [(name: "Content-Type", value: "application/json")], body: Array(#"{"choices": [{"message": "#.utf8))
        case .closeConnection: return .closeConnection
        case .hang: return .hang
        }
    }

    /// The text of the last user message: a string, or the text blocks of a content list.
    private static func lastUserContent(_ messages: Any?) -> String {
        guard let messages = messages as? [[String: Any]],
            let last = messages.last(where: { $0["role"] as? String == "user" })
        else { return "" }
        if let text = last["content"] as? String { return text }
        if let blocks = last["content"] as? [[String: Any]] {
            return blocks.compactMap { $0["text"] as? String }.joined()
        }
        return ""
    }

    /// Roughly four characters per token, as for English text with common tokenizers.
    private static func tokens(_ text: String) -> Int { max(1, text.count / 4) }

    private static func completion(
        _ shape: Shape, text: String, toolCalls: [(name: String, arguments: String)] = [], prompt: String, model: String,
        fingerprint: String, sequence: Int, cut: Bool = false
    ) -> [String: Any] {
        switch shape {
        case .openai:
            var message: [String: Any] = ["role": "assistant", "content": text.isEmpty && !toolCalls.isEmpty ? NSNull() : text]
            if !toolCalls.isEmpty {
                message["tool_calls"] = toolCalls.enumerated().map { index, call in
                    ["id": "call_stub\(sequence)_\(index)", "type": "function", "function": ["name": call.name, "arguments": call.arguments]]
                }
            }
            let finish = cut ? "length" : toolCalls.isEmpty ? "stop" : "tool_calls"
            return [
                "id": "chatcmpl-stub\(sequence)", "object": "chat.completion", "created": Int(Date().timeIntervalSince1970),
                "model": model, "system_fingerprint": fingerprint,
                "choices": [["index": 0, "message": message, "finish_reason": finish]],
                "usage": [
                    "prompt_tokens": tokens(prompt), "completion_tokens": tokens(text),
                    "total_tokens": tokens(prompt) + tokens(text),
                ],
            ]
        case .anthropic:
            return [
                "id": "msg_stub\(sequence)", "type": "message", "role": "assistant", "model": model,
                "content": [["type": "text", "text": text]] as [[String: Any]]
                    + toolCalls.enumerated().map { index, call in
                        [
                            "type": "tool_use", "id": "toolu_stub\(sequence)_\(index)", "name": call.name,
                            "input": (try? JSONSerialization.jsonObject(with: Data(call.arguments.utf8))) ?? [String: Any](),
                        ]
                    },
                "stop_reason": cut ? "max_tokens" : toolCalls.isEmpty ? "end_turn" : "tool_use", "stop_sequence": NSNull(),
                "usage": ["input_tokens": tokens(prompt), "output_tokens": tokens(text)],
            ]
        }
    }

    private static func error(_ shape: Shape, status: Int, message: String) -> [String: Any] {
        let type =
            switch status {
            case 400: "invalid_request_error"
            case 401: "authentication_error"
            case 403: "permission_error"
            case 404: "not_found_error"
            case 429: "rate_limit_error"
            case 529: "overloaded_error"
            default: status >= 500 ? "api_error" : "invalid_request_error"
            }
        switch shape {
        case .openai: return ["error": ["message": message, "type": type, "code": NSNull()]]
        case .anthropic: return ["type": "error", "error": ["type": type, "message": message]]
        }
    }

    private static func json(_ status: Int, _ object: [String: Any], headers: [(name: String, value: String)] = [], delay: Double = 0) -> StubHTTPServer.Reply {
        let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return .respond(status: status, headers: [(name: "Content-Type", value: "application/json")] + headers, body: Array(body), delay: delay)
    }
}

/// The stub's one compute slot (`serialize`): first come, first served.
final class StubSlot: Sendable {
    private struct State {
        var busy = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLockedValue { state -> Bool in
                if !state.busy {
                    state.busy = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.busy = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
