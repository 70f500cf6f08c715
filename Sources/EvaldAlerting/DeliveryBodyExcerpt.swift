/// A short, single-line excerpt of a receiver's error body, enough to tell Slack's
/// `invalid_payload` from `channel_is_archived`, with every secret value redacted: gateways
/// and receivers echo requests, and the request holds the routing key or the signed body.
enum DeliveryBodyExcerpt {
    static let maxCharacters = 200
    static let redacted = "<redacted>"

    static func make(_ body: [UInt8], secrets: [String]) -> String {
        // Redaction only shortens, so the first 4 KiB always cover the 200 characters kept.
        var text = String(decoding: body.prefix(4096), as: UTF8.self)
        for secret in secrets where !secret.isEmpty {
            text = text.replacingOccurrences(of: secret, with: redacted)
        }
        let words = text.split(whereSeparator: { $0.isWhitespace || $0.isNewline || ($0.asciiValue ?? 32) < 32 })
        let line = words.joined(separator: " ")
        return line.count > maxCharacters ? String(line.prefix(maxCharacters)) + "…" : line
    }
}
