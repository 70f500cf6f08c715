import EvaldCore
import Foundation

/// Any JSON value of a reply, decoded as it comes: tool call arguments sent as an object (an
/// Anthropic `tool_use` block's `input`, or servers that do not stringify OpenAI's `arguments`)
/// are kept as the JSON text a trace record holds.
struct DecodedJSON: Decodable {
    var value: JSONValue

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            value = .null
        } else if let bool = try? container.decode(Bool.self) {
            value = .bool(bool)
        } else if let int = try? container.decode(Int64.self) {
            value = .int(int)
        } else if let double = try? container.decode(Double.self) {
            value = .double(double)
        } else if let string = try? container.decode(String.self) {
            value = .string(string)
        } else if let array = try? container.decode([DecodedJSON].self) {
            value = .array(array.map(\.value))
        } else {
            // Decoding loses the object's key order; sorted keys at least make it stable.
            let object = try container.decode([String: DecodedJSON].self)
            value = .object(object.keys.sorted().map { ($0, object[$0]!.value) })
        }
    }
}

/// An OpenAI `tool_calls` entry: `{"type": "function", "function": {"name", "arguments"}}`.
/// Entries without a function name (other tool types) are dropped, not fatal: the reply's
/// text is still the answer.
struct OpenAIToolCall: Decodable {
    struct Function: Decodable {
        var name: String?
        var arguments: DecodedJSON?
    }

    var function: Function?

    var toolCall: TraceRecord.ToolCall? {
        guard let name = function?.name else { return nil }
        return TraceRecord.ToolCall(name: name, arguments: Self.text(function?.arguments?.value))
    }

    /// The arguments as a trace stores them: the string the model wrote, or an object serialized.
    static func text(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: return ""
        case .string(let text)?: return text
        case let other?: return other.serialized()
        }
    }
}

/// A JSON value written into a request body as it is (a tool's parameter schema).
struct EncodedJSON: Encodable {
    var value: JSONValue

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        switch value {
        case .object(let members):
            var container = encoder.container(keyedBy: Key.self)
            for (key, member) in members { try container.encode(EncodedJSON(value: member), forKey: Key(stringValue: key)) }
        case .array(let items):
            var container = encoder.unkeyedContainer()
            for item in items { try container.encode(EncodedJSON(value: item)) }
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let bool):
            var container = encoder.singleValueContainer()
            try container.encode(bool)
        case .int(let int):
            var container = encoder.singleValueContainer()
            try container.encode(int)
        case .double(let double):
            var container = encoder.singleValueContainer()
            try container.encode(double)
        case .string(let string):
            var container = encoder.singleValueContainer()
            try container.encode(string)
        }
    }

    /// What a tool without `parameters` takes: any object.
    static let openObject = EncodedJSON(value: .object([("type", .string("object"))]))
}
