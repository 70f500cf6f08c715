import Crypto
import EvaldCore
import EvaldHTTP
import Foundation

/// The bodies evald sends to each kind of receiver: pure functions of the alert
/// and the time, tested field by field against each receiver's documented schema.
///
/// Maps are written with their keys sorted, so the same alert gives the same bytes, which
/// keeps signatures and test expectations stable.
public enum AlertPayloads {
    /// The `X-Evald-Signature` header value, `t=<unix>,v1=<hex>`, where hex is the
    /// lowercase HMAC-SHA256, keyed with the secret's UTF-8 bytes, of `"<unix>."` followed by
    /// the exact body bytes. The timestamp inside the signed text lets a consumer reject
    /// replays (the scheme of Stripe's webhook signatures).
    public static func webhookSignature(secret: Secret, timestamp: Int, body: [UInt8]) -> String {
        var message = Array("\(timestamp).".utf8)
        message.append(contentsOf: body)
        let key = SymmetricKey(data: Array(secret.value.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: key)
        return "t=\(timestamp),v1=\(lowercaseHex(mac))"
    }

    static func sortedObject(_ map: [String: String]) -> JSONValue {
        .object(sortedPairs(map).map { ($0.key, .string($0.value)) })
    }

    /// Sorted by the keys' UTF-8 bytes, the order `AlertFingerprint` uses.
    static func sortedPairs(_ map: [String: String]) -> [(key: String, value: String)] {
        map.sorted { Array($0.key.utf8).lexicographicallyPrecedes($1.key.utf8) }
    }

    static func bytes(_ value: JSONValue) -> [UInt8] {
        Array(value.serialized().utf8)
    }

    /// RFC 3339 in UTC with milliseconds, as Alertmanager's own payloads carry sub-second times.
    static func time(_ date: Date) -> String {
        RFC3339.format(date, fractional: true)
    }

    /// The alert's one-line summary: its `summary` annotation, else its name and series.
    static func summary(of alert: Alert) -> String {
        if let summary = alert.annotations["summary"], !summary.isEmpty { return summary }
        let series = ["route", "model", "metric"].compactMap { key in
            alert.labels[key].flatMap { $0.isEmpty ? nil : "\(key)=\($0)" }
        }
        return series.isEmpty ? alert.name : "\(alert.name) (\(series.joined(separator: ", ")))"
    }
}
