import Foundation

/// Compiled regular expressions, immutable once built, so sharing them across tasks is safe
/// (NSRegularExpression matching does not mutate it).
public final class RegexBox: @unchecked Sendable {
    public let items: [NSRegularExpression]

    public init(_ items: [NSRegularExpression]) { self.items = items }

    /// Whether the first expression matches anywhere in `text` (not anchored).
    public func matches(_ text: String) -> Bool {
        items[0].firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}
