import Foundation

/// How a judge endpoint's recent calls went, as `evald status`, the log and `JudgeFailing` show it:
/// the share of attempts that timed out, the latency observed against the timeout, the
/// concurrency in force, and the last failure's cause. Never a URL path, a key or a body.
public struct EndpointHealth: Sendable, Equatable {
    public var endpoint: String
    /// The endpoint's `timeout`, in seconds.
    public var timeoutSeconds: Double
    /// Attempts in the window (the last `EndpointHealthTracker.windowSize`) and how many timed out.
    public var attempts: Int
    public var timeouts: Int
    /// The median latency of the window's attempts, a timed-out attempt counted at the timeout
    /// (so a lower bound once half of them time out); nil before any attempt.
    public var medianLatencySeconds: Double?
    /// The slowest attempt that got a response.
    public var slowestAnsweredSeconds: Double?
    /// The concurrency in force (lowered after timeouts) and the configured one.
    public var concurrency: Int
    public var configuredConcurrency: Int
    /// "connection refused to 127.0.0.1:8080", "timed out after 30 s", "HTTP 503 from api.example.com"...
    public var lastFailure: String?
    public var lastFailureAt: Date?

    public init(
        endpoint: String, timeoutSeconds: Double, attempts: Int = 0, timeouts: Int = 0, medianLatencySeconds: Double? = nil,
        slowestAnsweredSeconds: Double? = nil, concurrency: Int, configuredConcurrency: Int, lastFailure: String? = nil, lastFailureAt: Date? = nil
    ) {
        self.endpoint = endpoint
        self.timeoutSeconds = timeoutSeconds
        self.attempts = attempts
        self.timeouts = timeouts
        self.medianLatencySeconds = medianLatencySeconds
        self.slowestAnsweredSeconds = slowestAnsweredSeconds
        self.concurrency = concurrency
        self.configuredConcurrency = configuredConcurrency
        self.lastFailure = lastFailure
        self.lastFailureAt = lastFailureAt
    }

    /// A large share of calls time out: the server is slower than `timeout` allows (a local CPU
    /// model answering one request at a time). Timeouts are then not retried.
    public var isDegraded: Bool { EndpointHealthTracker.timeoutsAreSystematic(attempts: attempts, timeouts: timeouts) }

    /// Why the endpoint is degraded, for a person: the numbers and what to change.
    public var degradedReason: String? {
        guard isDegraded else { return nil }
        var text = "\(timeouts) of the last \(attempts) calls timed out after \(ConfigDuration.format(timeoutSeconds)) (endpoints.\(endpoint).timeout)"
        if let median = medianLatencySeconds { text += "; observed latency \(median >= timeoutSeconds ? ">= " : "")\(EndpointHealth.seconds(median)) (median)" }
        if let slowest = slowestAnsweredSeconds { text += ", slowest answer \(EndpointHealth.seconds(slowest))" }
        text += " against a timeout of \(ConfigDuration.format(timeoutSeconds))"
        if concurrency < configuredConcurrency { text += "; concurrency lowered to \(concurrency) of \(configuredConcurrency)" }
        text += "; timeouts are not retried. Raise endpoints.\(endpoint).timeout above the server's answer time or lower its concurrency"
        return text
    }

    static func seconds(_ value: Double) -> String {
        value >= 10 || value == value.rounded() ? "\(Int(value.rounded())) s" : String(format: "%.1f s", value)
    }

    public var json: JSONValue {
        .object([
            ("endpoint", .string(endpoint)),
            ("degraded", .bool(isDegraded)),
            ("timeout_seconds", .double(timeoutSeconds)),
            ("attempts", .int(Int64(attempts))),
            ("timeouts", .int(Int64(timeouts))),
            ("median_latency_seconds", medianLatencySeconds.map { .double(($0 * 1000).rounded() / 1000) } ?? .null),
            ("slowest_answered_seconds", slowestAnsweredSeconds.map { .double(($0 * 1000).rounded() / 1000) } ?? .null),
            ("concurrency", .int(Int64(concurrency))),
            ("configured_concurrency", .int(Int64(configuredConcurrency))),
            ("last_failure", .optional(lastFailure)),
            ("last_failure_at", .optional(lastFailureAt.map { RFC3339.format($0, fractional: false) })),
        ])
    }

    /// Reads back what `json` wrote (the daemon stores it for `evald status`); nil when it does not fit.
    public init?(json: JSONValue) {
        guard let endpoint = json["endpoint"]?.stringValue, let timeout = json["timeout_seconds"]?.numberValue else { return nil }
        self.init(
            endpoint: endpoint, timeoutSeconds: timeout, attempts: Int(json["attempts"]?.numberValue ?? 0),
            timeouts: Int(json["timeouts"]?.numberValue ?? 0), medianLatencySeconds: json["median_latency_seconds"]?.numberValue,
            slowestAnsweredSeconds: json["slowest_answered_seconds"]?.numberValue, concurrency: Int(json["concurrency"]?.numberValue ?? 1),
            configuredConcurrency: Int(json["configured_concurrency"]?.numberValue ?? 1), lastFailure: json["last_failure"]?.stringValue,
            lastFailureAt: json["last_failure_at"]?.stringValue.flatMap(RFC3339.parse))
    }
}

/// What one endpoint's recent attempts say, and the concurrency they allow: additive increase,
/// multiplicative decrease (AIMD, as TCP's congestion control, Jacobson 1988). A timeout or a
/// 429 halves the limit, at most once per round of calls (the calls already out when it halved
/// would time out too: they say nothing new); once the last 10 attempts had no timeout, each
/// answered attempt adds 1/limit, so a full round of answers adds one. Pure: the judge client holds it under a lock and feeds it.
public struct EndpointHealthTracker: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case answered
        case timedOut
        /// 429: the server says it is overloaded.
        case overloaded(cause: String)
        /// Any other failure (connection refused, 5xx, a rejection): the breaker's business.
        case failed(cause: String)
    }

    struct Attempt: Sendable, Equatable {
        var seconds: Double
        var timedOut: Bool
        var answered: Bool
    }

    public static let windowSize = 20
    /// Attempts without a timeout before the limit grows again.
    public static let cleanStretch = 10

    public let endpoint: String
    public let timeoutSeconds: Double
    public let configuredConcurrency: Int
    private(set) var window: [Attempt] = []
    private(set) var limit: Double
    /// Attempts finished since the limit was last halved.
    private var sinceDecrease = Int.max
    private(set) var lastFailure: String?
    private(set) var lastFailureAt: Date?

    public init(endpoint: String, timeoutSeconds: Double, concurrency: Int) {
        self.endpoint = endpoint
        self.timeoutSeconds = timeoutSeconds
        self.configuredConcurrency = max(1, concurrency)
        self.limit = Double(max(1, concurrency))
    }

    /// The concurrency in force: between 1 and the configured one.
    public var concurrencyLimit: Int { max(1, min(configuredConcurrency, Int(limit.rounded(.down)))) }

    /// Timeouts that happen to most attempts are the server's speed, not a blip: retrying them
    /// only makes a server that keeps computing abandoned requests slower still.
    static func timeoutsAreSystematic(attempts: Int, timeouts: Int) -> Bool {
        timeouts >= 2 && timeouts * 2 >= attempts
    }

    /// Whether a timed-out attempt is worth another: not once timeouts are systematic.
    public var retriesTimeouts: Bool { !Self.timeoutsAreSystematic(attempts: window.count, timeouts: window.count { $0.timedOut }) }

    public mutating func record(_ outcome: Outcome, seconds: Double, at: Date) {
        let timedOut = outcome == .timedOut
        let answered = outcome == .answered
        window.append(Attempt(seconds: timedOut ? max(seconds, timeoutSeconds) : seconds, timedOut: timedOut, answered: answered))
        if window.count > Self.windowSize { window.removeFirst(window.count - Self.windowSize) }
        if sinceDecrease != Int.max { sinceDecrease += 1 }
        switch outcome {
        case .answered:
            // Probe upwards only after a clean stretch: right after a timeout, one more request
            // in flight would queue behind the server's work and time out again.
            if window.suffix(Self.cleanStretch).allSatisfy({ !$0.timedOut }) {
                limit = min(Double(configuredConcurrency), limit + 1 / max(1, limit))
            }
        case .timedOut, .overloaded:
            if sinceDecrease >= concurrencyLimit {
                limit = max(1, (limit / 2).rounded(.down))
                sinceDecrease = 0
            }
        case .failed:
            break
        }
        switch outcome {
        case .answered: break
        case .timedOut:
            lastFailure = "timed out after \(ConfigDuration.format(timeoutSeconds)) (endpoints.\(endpoint).timeout)"
            lastFailureAt = at
        case .overloaded(let cause), .failed(let cause):
            lastFailure = cause
            lastFailureAt = at
        }
    }

    public var snapshot: EndpointHealth {
        let latencies = window.map(\.seconds).sorted()
        let median = latencies.isEmpty ? nil : latencies[latencies.count / 2]
        return EndpointHealth(
            endpoint: endpoint, timeoutSeconds: timeoutSeconds, attempts: window.count, timeouts: window.count { $0.timedOut },
            medianLatencySeconds: median, slowestAnsweredSeconds: window.filter(\.answered).map(\.seconds).max(),
            concurrency: concurrencyLimit, configuredConcurrency: configuredConcurrency, lastFailure: lastFailure, lastFailureAt: lastFailureAt)
    }
}
