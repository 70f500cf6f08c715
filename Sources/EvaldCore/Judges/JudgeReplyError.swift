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
