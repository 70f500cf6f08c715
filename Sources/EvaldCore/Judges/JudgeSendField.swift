/// A part of a trace that may leave evald for a judge endpoint (`judge.send`). Route and model
/// name the application, not a user, and always go.
public enum JudgeSendField: String, Sendable, CaseIterable, Comparable {
    /// What the user and the system sent: `input_text`, `last_user_message`.
    case input
    /// What the model answered, tool calls included: `output`, `tool_calls`.
    case output
    case reference
    /// The trace's free-form `metadata.KEY` values.
    case metadata

    public static let defaults: Set<JudgeSendField> = [.input, .output, .reference]

    /// The field a template variable reads; nil for route and model.
    public static func field(ofVariable name: String) -> JudgeSendField? {
        switch name {
        case "input_text", "last_user_message": .input
        case "output", "tool_calls": .output
        case "reference": .reference
        default: name.hasPrefix("metadata.") ? .metadata : nil
        }
    }

    public static func < (a: JudgeSendField, b: JudgeSendField) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

extension JudgeRubric {
    /// The trace fields this rubric's prompt sends to its judge.
    public var sentFields: Set<JudgeSendField> { Set(template.usedNames.compactMap(JudgeSendField.field(ofVariable:))) }
}
