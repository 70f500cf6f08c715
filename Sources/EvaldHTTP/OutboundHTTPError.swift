/// Why an outbound request got no HTTP response. A response with any status code is not an
/// error here: what a status means is the caller's decision.
///
/// No case carries the URL, a header value or a body: webhook URLs (Slack) and keys are
/// secrets, and these errors end up in logs and in the database.
public enum OutboundHTTPError: Error, Sendable, CustomStringConvertible, Equatable {
    case invalidURL
    /// The TCP (or TLS) connection could not be made; the detail says why, e.g. "Connection refused".
    case connectFailed(String)
    /// The attempt's deadline passed before the whole response arrived.
    case timedOut
    /// The peer closed the connection before a full response.
    case connectionClosed
    case other(String)

    /// A value-free label for metrics and logs.
    public var shortDescription: String {
        switch self {
        case .invalidURL: "invalid_url"
        case .connectFailed: "connect_failed"
        case .timedOut: "timeout"
        case .connectionClosed: "connection_closed"
        case .other: "other"
        }
    }

    public var description: String {
        switch self {
        case .invalidURL: "invalid URL (not shown: URLs can hold secrets); check the configured URL's scheme (http or https) and host"
        case .connectFailed(let detail): "could not connect: \(detail)"
        case .timedOut: "timed out before the whole response arrived"
        case .connectionClosed: "the server closed the connection before a full response"
        case .other(let detail): detail
        }
    }
}
