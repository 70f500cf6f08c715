import EvaldCore
import EvaldHTTP
import Foundation

/// The one HTTP attempt every receiver makes, and the translation of its outcome into a
/// `DeliveryError` that names the receiver but none of its secrets.
struct ReceiverPoster: Sendable {
    let receiverName: String
    let kind: ReceiverConfig.Kind
    let transport: HTTPTransport
    let timeout: Double
    /// Values that must not appear in an error message even when the receiver echoes them
    /// in its body: the URL (and its path and query tokens), routing keys, HMAC secrets.
    let secrets: [Secret]

    func post(url: Secret, headers: [(name: String, value: String)], body: [UInt8], now: Date) async throws(DeliveryError) {
        var allHeaders: [(name: String, value: String)] = [
            ("Content-Type", "application/json"),
            ("User-Agent", "evald/\(EvaldVersion.current)"),
        ]
        allHeaders.append(contentsOf: headers)
        let request = OutboundRequest(url: url.value, method: "POST", headers: allHeaders, body: body, timeout: timeout)
        let response: OutboundResponse
        do {
            response = try await transport.send(request)
        } catch {
            throw transportFailure(error)
        }
        guard !(200..<300).contains(response.status) else { return }
        throw statusFailure(response, now: now)
    }

    private var who: String { "\(kind.rawValue) receiver \"\(receiverName)\"" }

    private func transportFailure(_ error: OutboundHTTPError) -> DeliveryError {
        switch error {
        case .invalidURL:
            return DeliveryError(
                retryable: false,
                message: "\(who): the URL is not a valid http(s) URL (not shown: receiver URLs can be secrets); check its url, url_file or url_env",
                shortDescription: error.shortDescription)
        case .timedOut:
            return DeliveryError(
                retryable: true,
                message: "\(who): no complete response within \(ConfigDuration.format(timeout)); will retry",
                shortDescription: error.shortDescription)
        default:
            return DeliveryError(
                retryable: true, message: "\(who): \(error.description); will retry", shortDescription: error.shortDescription)
        }
    }

    private func statusFailure(_ response: OutboundResponse, now: Date) -> DeliveryError {
        let retryable = DeliveryError.isRetryable(status: response.status)
        let excerpt = ResponseBodyExcerpt.make(response.body, secrets: redactionTokens)
        let hint: String =
            switch response.status {
            case 429: "rate limited; will retry"
            case 408, 500..<600: "will retry"
            case 401, 403: "not retried: check the receiver's credentials (URL, routing key)"
            case 404, 410: "not retried: check the receiver's URL; the hook or integration may have been removed"
            case 300..<400: "not retried: redirects are not followed; configure the final URL"
            default: "not retried: the receiver refused the payload"
            }
        let body = excerpt.isEmpty ? "" : ": \(excerpt)"
        return DeliveryError(
            retryable: retryable, status: response.status,
            retryAfter: response.header("retry-after").flatMap { RetryAfter.seconds($0, now: now).map { max(0, $0) } },
            message: "\(who): HTTP \(response.status)\(body) (\(hint))",
            shortDescription: DeliveryError.label(status: response.status))
    }

    /// The secrets, and each longer token of the URL: Slack's URL is
    /// `https://hooks.slack.com/services/T…/B…/<token>` and an echo of one part of it is as
    /// bad as the whole.
    private var redactionTokens: [String] {
        var tokens: [String] = []
        for secret in secrets where !secret.value.isEmpty {
            tokens.append(secret.value)
            let parts = secret.value.split(whereSeparator: { "/?&=#:@;,".contains($0) })
            tokens.append(contentsOf: parts.filter { $0.count >= 8 }.map(String.init))
        }
        // Longest first, so a token inside a longer secret cannot leave the rest behind.
        return tokens.sorted { $0.count > $1.count }
    }
}
