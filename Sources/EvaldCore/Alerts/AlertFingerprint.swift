import Crypto

/// An alert's fingerprint is a hash of its sorted labels.
///
/// The exact rule, so other tools can recompute it: sort the labels by key, comparing the
/// keys' UTF-8 bytes; write each as `key U+001F value`, join them with U+001E (the ASCII unit
/// and record separators, which label names and values do not contain); take SHA-256 of that
/// text's UTF-8 bytes; the fingerprint is the first 16 lowercase hex digits (64 bits, the
/// length of Alertmanager's fingerprints). Example: {"a": "1", "b": "2"} hashes "a\u{1f}1\u{1e}b\u{1f}2".
///
/// A cryptographic hash rather than Alertmanager's FNV-1a: the fingerprint is stored and
/// sent to third parties as a dedup key, and must not change with Swift's hashing seed.
public enum AlertFingerprint {
    public static func of(_ labels: [String: String]) -> String {
        let sorted = labels.sorted { Array($0.key.utf8).lexicographicallyPrecedes($1.key.utf8) }
        let text = sorted.map { $0.key + "\u{1f}" + $0.value }.joined(separator: "\u{1e}")
        let digest = SHA256.hash(data: Array(text.utf8))
        return digest.prefix(8).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
