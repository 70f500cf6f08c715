/// Why a judge call produced no completion.
public struct JudgeCallError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The endpoint's circuit breaker is open: no request was sent.
        case circuitOpen = "circuit_open"
        /// A 4xx other than 408/429 (or a 3xx, or a base_url that is not a URL): not retried.
        case rejected
        /// Every attempt failed with a retryable error (connection, timeout, 408, 429, 5xx).
        case retriesExhausted = "retries_exhausted"
        /// A 2xx whose body is not the API's JSON shape.
        case badResponse = "bad_response"
        case cancelled
    }

    public var kind: Kind
    /// For a person: the endpoint's name, what happened and what to do. Never the API key,
    /// never the URL's query; at most 200 redacted characters of the server's error body.
    public var message: String
    /// The last HTTP status received, if any.
    public var status: Int?
    /// HTTP requests sent during the call (0 when it failed before sending one).
    public var attempts: Int
    /// The endpoint's fault, not the trace's: the queue keeps the trace for later (circuit
    /// open, retries exhausted, cancelled, and rejections that every request would get:
    /// 401/402/403/404 or an invalid base_url). Otherwise (other rejections, bad responses)
    /// the trace is recorded as a judge_error.
    public var isTransient: Bool
    /// What the last attempt met, short and free of secrets: "connection refused to
    /// 127.0.0.1:8080", "timed out after 30 s (endpoints.default.timeout)", "HTTP 503 from
    /// api.example.com". nil when no request was sent.
    public var cause: String?
    /// A value-free label of the last attempt's failure for metrics: `timeout`, `connect_failed`,
    /// `connection_closed`, `http_429`, `http_5xx`, `rejected`, `bad_response`, `circuit_open`, `cancelled`.
    public var causeKind: String

    public init(
        kind: Kind, message: String, status: Int? = nil, attempts: Int, isTransient: Bool? = nil, cause: String? = nil, causeKind: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.status = status
        self.attempts = attempts
        self.isTransient = isTransient ?? Self.defaultTransience(kind: kind, status: status)
        self.cause = cause
        self.causeKind = causeKind ?? (kind == .retriesExhausted ? "other" : kind.rawValue)
    }

    /// A value-free label for metrics: the kind's raw value.
    public var shortDescription: String { kind.rawValue }

    public var description: String { "judge call \(kind.rawValue): \(message)" }

    /// Statuses that say the endpoint's configuration (key, account, base_url, model) is
    /// wrong: every request would get the same answer, whatever the trace.
    static func isEndpointFault(status: Int?) -> Bool {
        guard let status else { return true }
        return [401, 402, 403, 404].contains(status)
    }

    private static func defaultTransience(kind: Kind, status: Int?) -> Bool {
        switch kind {
        case .circuitOpen, .retriesExhausted, .cancelled: true
        case .rejected: isEndpointFault(status: status)
        case .badResponse: false
        }
    }
}
