/// A tool a golden case offers the model when it is replayed (`"tools"` in a case line), so a
/// model under test can make the tool calls a red-team case forbids: without tools in the
/// request, no provider returns a tool call. Written in OpenAI's shape
/// (`{"type": "function", "function": {"name", "description", "parameters"}}`) or flat
/// (`{"name", "description", "parameters"}`); sent in the endpoint API's own shape.
public struct ToolDefinition: Sendable, Equatable {
    public var name: String
    public var description: String?
    /// The arguments' JSON Schema; nil sends an open object schema.
    public var parameters: JSONValue?

    public init(name: String, description: String? = nil, parameters: JSONValue? = nil) {
        self.name = name
        self.description = description
        self.parameters = parameters
    }

    /// Parses a case line's `tools`; nil when the line has none.
    static func parse(_ value: JSONValue?) -> Result<[ToolDefinition], GoldenCaseProblemDetail> {
        guard let value = NativeRecordDecoder.present(value) else { return .success([]) }
        guard case .array(let items) = value else {
            return .failure(.init(key: "tools", message: "must be a list of tool definitions, not \(value.typeName)"))
        }
        var tools: [ToolDefinition] = []
        for (index, item) in items.enumerated() {
            let key = "tools[\(index)]"
            let function = NativeRecordDecoder.present(item["function"]) ?? item
            guard case .object = function, let name = function["name"]?.stringValue, !name.isEmpty else {
                return .failure(
                    .init(key: key, message: "needs a function name: {\"type\": \"function\", \"function\": {\"name\": ..., \"parameters\": {...}}}"))
            }
            let parameters = NativeRecordDecoder.present(function["parameters"])
            if let parameters, case .object = parameters {
            } else if parameters != nil {
                return .failure(.init(key: "\(key).parameters", message: "must be a JSON Schema object"))
            }
            if tools.contains(where: { $0.name == name }) {
                return .failure(.init(key: key, message: "\"\(name)\" is offered twice"))
            }
            tools.append(ToolDefinition(name: name, description: NativeRecordDecoder.present(function["description"])?.stringValue, parameters: parameters))
        }
        return .success(tools)
    }
}
