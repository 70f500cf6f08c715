/// A judge reply that carries no usable verdict. This is a `judge_error`, never a
/// failing score, so a judge that rambles does not look like an application regression.
public struct JudgeReplyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Short and free of values, for metric labels and the database.
    public enum Kind: String, Sendable {
        case noJSON = "no_json"
        case noScore = "no_score"
        case notANumber = "not_a_number"
        case outOfRange = "out_of_range"
        case noPassField = "no_pass"
        /// A fractional score on a whole-number scale (4.5 on 1-5).
        case notAnInteger = "not_an_integer"
        /// The reply copies the rubric's placeholder (`"<one sentence>"`, `"<integer 1-5>"`)
        /// instead of answering: a small model echoing the template.
        case placeholderEchoed = "placeholder_echoed"
        /// The reply was cut at `max_output_tokens` (`finish_reason: length`, Anthropic
        /// `stop_reason: max_tokens`) before it held a usable verdict.
        case truncated
    }

    public var kind: Kind
    public var message: String
    /// The reply's first 200 characters, kept for `evald explain`.
    public var replyExcerpt: String

    public static let excerptLength = 200

    public init(kind: Kind, message: String, reply: String) {
        self.kind = kind
        self.message = message
        self.replyExcerpt = String(reply.prefix(Self.excerptLength))
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}
