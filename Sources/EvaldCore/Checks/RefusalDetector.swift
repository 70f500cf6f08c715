import Foundation

/// Tells a refusal ("I'm sorry, but I can't help with that") from an answer.
///
/// The phrase list covers the refusal styles of the common chat models; it is matched near the
/// start of the answer (the first 300 characters), because an answer that helps and later says
/// "I can't guarantee delivery dates" is not a refusal.
public struct RefusalDetector: Sendable {
    static let builtInPatterns = [
        #"\bI(?:'m| am) (?:sorry|afraid),? (?:but )?(?:I|we) (?:can(?:'|no)t|cannot|am not able to|won't|will not|am unable to|won't be able to) (?:help|assist|provide|comply|do that|fulfil|fulfill|share|answer|support|discuss|give|process (?:this|that|your) request)\b"#,
        #"^\s*(?:I|We) (?:can(?:'|no)t|cannot|won't|will not|am unable to|are unable to|am not able to|'m not able to|'m unable to) (?:help|assist|provide|comply|do that|fulfil|fulfill|share|answer|process|support|complete)"#,
        #"\bI(?:'m| am) (?:not able|unable) to (?:help|assist|provide|comply|answer) (?:with )?(?:that|this|your request)"#,
        #"\b(?:Unfortunately|Regrettably),? (?:I|we) (?:can(?:'|no)t|cannot|am unable to|are unable to|'m unable to|won't be able to) (?:help|assist|provide|process|do|share)"#,
        #"\bI must (?:decline|refuse)\b"#,
        #"\b(?:that|this) (?:request )?(?:is|goes) (?:against|outside|beyond) (?:my|our) (?:guidelines|policy|policies|capabilities)"#,
        #"\bAs an AI(?: language model)?,? I (?:can(?:'|no)t|cannot|don't|do not|am not able to)\b"#,
        #"\bI(?:'m| am) not (?:allowed|permitted|authorized) to\b"#,
        #"\bI (?:apologi[sz]e|regret),? but (?:I|we) (?:can(?:'|no)t|cannot|am unable to|won't)\b"#,
    ]
    static let window = 300

    private let expressions: RegexBox

    /// `extraPatterns` are ICU regular expressions added to the built-in list.
    public init(extraPatterns: [String] = []) throws {
        expressions = try RegexBox(
            (Self.builtInPatterns + extraPatterns).map {
                try NSRegularExpression(pattern: $0, options: [.caseInsensitive, .anchorsMatchLines])
            })
    }

    /// The refusal phrase found near the start of `text`, or nil.
    public func refusal(in text: String) -> String? {
        let head = String(text.prefix(Self.window)).replacingOccurrences(of: "\u{2019}", with: "'")
        let range = NSRange(head.startIndex..., in: head)
        for expression in expressions.items {
            if let match = expression.firstMatch(in: head, range: range), let r = Range(match.range, in: head) {
                return String(head[r])
            }
        }
        return nil
    }
}
