import EvaldCore
import EvaldHTTP
import Foundation

/// One judge API's shape on the wire: where to POST, which headers, the request body, and
/// how to read a successful reply.
protocol JudgeWireFormat: Sendable {
    /// What a well-formed reply is called in messages, e.g. "an OpenAI chat completion".
    var replyName: String { get }
    func url(baseURL: String) -> String
    func headers(apiKey: Secret?) -> [(name: String, value: String)]
    func body(for request: JudgeRequest, model: String, jsonMode: Bool) -> [UInt8]
    func parse(_ body: [UInt8]) throws(MalformedReply) -> WireReply
}

/// The fields of a successful reply that a `JudgeCompletion` carries.
struct WireReply: Sendable, Equatable {
    var text: String
    var inputTokens: Int
    var outputTokens: Int
    var model: String?
    var systemFingerprint: String?
    var finishReason: String?
    /// The tool calls the model made (OpenAI `tool_calls`, Anthropic `tool_use` blocks).
    var toolCalls: [TraceRecord.ToolCall] = []
}

/// A 2xx body that is not the API's shape; `reason` names what is missing, never a value.
struct MalformedReply: Error {
    var reason: String
}

extension JudgeWireFormat {
    /// `base` + `path`, keeping a query (e.g. Azure's `?api-version=`) at the end.
    static func join(_ base: String, _ path: String) -> String {
        var head = Substring(base)
        var query: Substring?
        if let mark = base.firstIndex(of: "?") {
            head = base[..<mark]
            query = base[mark...]
        }
        while head.hasSuffix("/") { head.removeLast() }
        return String(head) + path + String(query ?? "")
    }

    static func encode<Body: Encodable>(_ body: Body) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The bodies are plain strings and numbers; encoding them cannot fail.
        return Array((try? encoder.encode(body)) ?? Data("{}".utf8))
    }

    static func decode<Reply: Decodable>(_ type: Reply.Type, from body: [UInt8]) throws(MalformedReply) -> Reply {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch let error as DecodingError {
            throw MalformedReply(reason: Self.describe(error))
        } catch {
            throw MalformedReply(reason: "not JSON")
        }
    }

    /// The path of the field that did not fit, without the values found there.
    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "the top level" : String(keys.dropFirst(keys.hasPrefix(".") ? 1 : 0))
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty: return "not JSON"
        case .dataCorrupted(let context): return "\(path(context)) is malformed"
        case .keyNotFound(let key, let context): return "\(path(context) == "the top level" ? "" : path(context) + ".")\(key.stringValue) is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "\(path(context)) has the wrong type"
        @unknown default: return "unexpected shape"
        }
    }
}

/// A token count that some OpenAI-compatible servers send as a float (e.g. 12.0).
struct TokenCount: Decodable, Sendable {
    var value: Int

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let int = try? container.decode(Int.self) {
            value = int
        } else {
            let double = try container.decode(Double.self)
            value = double.isFinite ? Int(max(0, min(double, Double(Int32.max)))) : 0
        }
    }
}
