/// Builds the text sent to a judge from a stored record: decode, take the template variables,
/// mask personal data (on by default), render the rubric.
public enum JudgePromptBuilder {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public static func prompt(recordJSON: String, rubric: JudgeRubric, redactingWith detector: PIIDetector?) throws(Failure) -> String {
        let value: JSONValue
        let record: TraceRecord
        do {
            value = try JSONParser.parse(recordJSON)
            record = try NativeRecordDecoder.decode(value)
        } catch {
            throw Failure(message: "the stored record cannot be decoded (\(error))")
        }
        return try prompt(record: record, metadata: metadataStrings(value["metadata"]), rubric: rubric, redactingWith: detector)
    }

    /// The same prompt from a decoded record: golden cases are judged without a stored row.
    public static func prompt(
        record: TraceRecord, metadata: [String: String], rubric: JudgeRubric,
        redactingWith detector: PIIDetector?
    ) throws(Failure) -> String {
        var variables = JudgePromptVariables(record: record, metadata: metadata)
        if let detector { variables = variables.redacted(by: detector) }
        do {
            return try rubric.render(variables)
        } catch {
            throw Failure(message: "\(error)")
        }
    }

    /// `metadata.KEY` values as text: strings as they are, anything else as compact JSON.
    public static func metadataStrings(_ value: JSONValue?) -> [String: String] {
        guard case .object(let pairs)? = value else { return [:] }
        var result: [String: String] = [:]
        for (key, value) in pairs where result[key] == nil {
            switch value {
            case .string(let s): result[key] = s
            case .null: continue
            default: result[key] = value.serialized()
            }
        }
        return result
    }
}
