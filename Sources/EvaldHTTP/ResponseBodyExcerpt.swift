/// A short, single-line, redacted excerpt of a server's response body for error messages:
/// enough to tell "invalid model" from "quota exceeded", or Slack's `invalid_payload` from
/// `channel_is_archived`, never a secret. Providers echo keys back, often masked ("Incorrect
/// API key provided: sk-proj-ab***cd"), and gateways and receivers echo requests, which hold
/// keys, routing keys and signed bodies.
public enum ResponseBodyExcerpt {
    public static let maxCharacters = 200
    public static let redacted = "<redacted>"

    /// - Parameters:
    ///   - secrets: values replaced wherever they appear.
    ///   - apiKey: the key the request carried: replaced, and a token sharing its first 8
    ///     characters (a masked echo) redacted too.
    ///   - credentialTokens: also redact tokens that look like a credential (`sk-...`, the
    ///     token after `Bearer`, long random-looking tokens).
    public static func make(_ body: [UInt8], secrets: [String] = [], apiKey: String? = nil, credentialTokens: Bool = false) -> String {
        // Only the start is read: redaction can shorten the text, never lengthen it, so
        // 4 KiB always covers the 200 characters kept.
        var text = String(decoding: body.prefix(4096), as: UTF8.self)
        for secret in secrets + [apiKey].compactMap({ $0 }) where !secret.isEmpty {
            text = text.replacingOccurrences(of: secret, with: redacted)
        }
        if credentialTokens { text = redactTokens(in: text, apiKey: apiKey) }
        let words = text.split(whereSeparator: { $0.isWhitespace || $0.isNewline || ($0.asciiValue ?? 32) < 32 })
        let line = words.joined(separator: " ")
        return line.count > maxCharacters ? String(line.prefix(maxCharacters)) + "…" : line
    }

    /// Redacts word-like tokens that look like a credential: anything starting `sk-`
    /// (OpenAI and Anthropic keys), the token after `Bearer`, a token sharing the key's
    /// first 8 characters (a masked echo), and long random-looking tokens.
    static func redactTokens(in text: String, apiKey: String?) -> String {
        let keyPrefix: Substring? = apiKey.flatMap { $0.count >= 16 ? $0.prefix(8) : nil }
        var output = ""
        var token = ""
        var previous = ""
        func flush() {
            guard !token.isEmpty else { return }
            if previous.lowercased() == "bearer" || looksLikeCredential(token, keyPrefix: keyPrefix) {
                output += redacted
            } else {
                output += token
            }
            previous = token
            token = ""
        }
        for character in text {
            if character.isLetter || character.isNumber || "-_.*".contains(character) {
                token.append(character)
            } else {
                flush()
                output.append(character)
            }
        }
        flush()
        return output
    }

    private static func looksLikeCredential(_ token: String, keyPrefix: Substring?) -> Bool {
        if token.hasPrefix("sk-"), token.count > 6 { return true }
        if let keyPrefix, token.hasPrefix(keyPrefix) { return true }
        guard token.count >= 32 else { return false }
        let hasDigit = token.contains(where: \.isNumber)
        let hasLetter = token.contains(where: \.isLetter)
        return hasDigit && hasLetter
    }
}
