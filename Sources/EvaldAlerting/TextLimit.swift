/// Cuts text to a receiver's length limit without splitting a character.
///
/// Limits are counted in UTF-16 code units, the largest of the counts the receivers might
/// use (JavaScript string length); text within it is within a limit on characters or
/// scalars too. A cut text ends with "…", inside the limit.
enum TextLimit {
    static func truncate(_ text: String, maxUTF16 limit: Int) -> String {
        guard text.utf16.count > limit else { return text }
        guard limit > 0 else { return "" }
        var kept = ""
        var used = 1  // the ellipsis
        for character in text {
            let size = character.utf16.count
            if used + size > limit { break }
            kept.append(character)
            used += size
        }
        return kept + "…"
    }
}
