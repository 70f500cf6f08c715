import EvaldHTTP
import Foundation

/// How long to wait before retrying a failed judge request.
public struct RetryPolicy: Sendable, Equatable {
    /// Retries after the first attempt. `JudgeEndpointClient` replaces it with the
    /// endpoint's `max_retries`.
    public var maxRetries: Int = 3
    /// The backoff ceiling of the first retry, doubled for each further one.
    public var baseDelay: Double = 0.5
    /// The largest backoff ceiling.
    public var maxDelay: Double = 30
    /// The longest `Retry-After` honoured: a server asking for an hour is capped, so one
    /// call cannot hold a judge worker for that long.
    public var maxRetryAfter: Double = 120

    public init(maxRetries: Int = 3, baseDelay: Double = 0.5, maxDelay: Double = 30, maxRetryAfter: Double = 120) {
        self.maxRetries = maxRetries
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    /// Seconds to wait after `attempt` (1 = the first request) failed.
    ///
    /// The server's `Retry-After` (delay-seconds or an HTTP-date, RFC 9110 section 10.2.3)
    /// wins when it parses, clamped to 0...maxRetryAfter. Otherwise full-jitter exponential
    /// backoff ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015): a uniform
    /// draw in 0..<min(maxDelay, baseDelay * 2^(attempt-1)), which spreads the retries of
    /// many workers hit by the same outage instead of synchronising them.
    /// - Parameter random: a draw in 0..<1 (injected so tests are reproducible).
    public func delay(attempt: Int, retryAfter: String?, now: Date, random: Double) -> Double {
        if let retryAfter, let seconds = Self.parseRetryAfter(retryAfter, now: now) {
            return min(max(0, seconds), max(0, maxRetryAfter))
        }
        let exponent = Double(min(max(attempt - 1, 0), 62))
        let ceiling = min(max(0, maxDelay), max(0, baseDelay) * pow(2, exponent))
        let draw = random.isFinite ? min(max(random, 0), 1) : 0
        return draw * ceiling
    }

    /// Seconds from `now` that a `Retry-After` value asks for (see `RetryAfter`).
    public static func parseRetryAfter(_ value: String, now: Date) -> Double? {
        RetryAfter.seconds(value, now: now)
    }
}
