/// One delivery attempt to a receiver failed. Whether to try again is decided here, at the
/// edge (DESIGN habit 5); when and how often is the outbox's business.
///
/// Never holds the receiver's URL (Slack and webhook URLs are credentials), a routing key or
/// an HMAC secret: these errors are logged and stored with the outbox entry.
public struct DeliveryError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Connection errors, timeouts, 408, 429 and 5xx: true. Other statuses (4xx, an
    /// unfollowed 3xx) and an invalid URL: false, every retry would get the same answer.
    public var retryable: Bool
    /// The HTTP status, when the receiver answered.
    public var status: Int?
    /// Seconds the receiver asked to wait (`Retry-After`, delay-seconds or HTTP-date).
    public var retryAfter: Double?
    /// For a person: the receiver's name and kind, what happened (status and up to 200
    /// characters of the body, secrets redacted) and what to do.
    public var message: String
    /// A value-free label for metrics and logs: `http_408`, `http_429`, `http_5xx`,
    /// `http_4xx`, `http_3xx`, or the transport's (`timeout`, `connect_failed`,
    /// `connection_closed`, `invalid_url`, `other`).
    public var shortDescription: String

    public init(retryable: Bool, status: Int? = nil, retryAfter: Double? = nil, message: String, shortDescription: String) {
        self.retryable = retryable
        self.status = status
        self.retryAfter = retryAfter
        self.message = message
        self.shortDescription = shortDescription
    }

    public var description: String { message }

    /// Statuses worth another attempt: the receiver is overloaded, restarting or rate
    /// limiting, and the same request can succeed later (RFC 9110 sections 15.5.9, 15.6;
    /// RFC 6585 section 4).
    public static func isRetryable(status: Int) -> Bool {
        status == 408 || status == 429 || (500..<600).contains(status)
    }

    static func label(status: Int) -> String {
        switch status {
        case 408, 429: "http_\(status)"
        case 500..<600: "http_5xx"
        case 400..<500: "http_4xx"
        case 300..<400: "http_3xx"
        default: "http_other"
        }
    }
}
