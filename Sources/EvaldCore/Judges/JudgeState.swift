import Foundation

/// A judge's health as the judge workers see it: what alerting decides on (`JudgeFailing`,
/// `JudgeBudgetExhausted`) and what `evald status` shows. Text is rendered from it for logs,
/// the database and the CLI, never parsed back.
public enum JudgeState: Sendable, Equatable {
    /// Calls go out.
    case running
    /// Calls go out, but the endpoint's circuit is half-open: the next call decides whether the
    /// endpoint is back. Runnable, but not yet known to be healthy.
    case trial(endpoint: String)
    /// Calls go out, but most of them time out: the endpoint is slower than its `timeout`
    /// (see `EndpointHealth.degradedReason`). Timeouts are not retried and the concurrency is lowered.
    case degraded(reason: String)
    case paused(JudgePauseReason)
    /// The judge cannot run under this configuration (no endpoint, no API key).
    case skipped(reason: String)

    /// Whether the workers may send it calls.
    public var isRunnable: Bool {
        switch self {
        case .running, .trial, .degraded: true
        case .paused, .skipped: false
        }
    }

    /// Whether a change to this state is news an operator need not act on (logged at info);
    /// degraded, paused and skipped are warnings.
    public var isHealthy: Bool {
        switch self {
        case .running, .trial: true
        case .degraded, .paused, .skipped: false
        }
    }

    /// The name stored and printed: `running`, `degraded`, `paused` or `skipped`.
    public var name: String {
        switch self {
        case .running, .trial: "running"
        case .degraded: "degraded"
        case .paused: "paused"
        case .skipped: "skipped"
        }
    }

    /// Why, for a person.
    public var reason: String? {
        switch self {
        case .running: nil
        case .trial(let endpoint): "circuit half-open: the next call decides whether endpoint \(endpoint) is back"
        case .degraded(let reason): reason
        case .paused(let why): why.description
        case .skipped(let reason): reason
        }
    }

    /// The endpoint's circuit is not closed (open, or half-open awaiting its trial call).
    public var circuitNotClosed: Bool {
        switch self {
        case .trial, .paused(.circuitOpen): true
        default: false
        }
    }
}

public enum JudgePauseReason: Sendable, Equatable, CustomStringConvertible {
    /// The endpoint failed repeatedly; the breaker lets a trial call through at `until`.
    /// `lastFailure`: what the last call met, e.g. "connection refused to 127.0.0.1:8080".
    case circuitOpen(endpoint: String, until: Date, lastFailure: String? = nil)
    /// The endpoint spent its daily token budget; judging resumes at 00:00 UTC.
    case budgetSpent(endpoint: String, dailyTokenBudget: Int)

    public var description: String {
        switch self {
        case .circuitOpen(let endpoint, let until, let lastFailure):
            "circuit open: endpoint \(endpoint) failed repeatedly"
                + (lastFailure.map { " (last: \($0))" } ?? "") + "; next try at \(RFC3339.format(until, fractional: false))"
        case .budgetSpent(let endpoint, let budget):
            "budget spent: endpoint \(endpoint) spent its daily_token_budget of \(budget) tokens; judging resumes at 00:00 UTC"
        }
    }
}

/// One judge's state at a moment.
public struct JudgeHealth: Sendable, Equatable {
    public var judgeName: String
    public var identity: String
    public var endpoint: String?
    public var state: JudgeState
    public var updatedAt: Date
    /// How the endpoint's recent calls went (nil when the judge has no client).
    public var endpointHealth: EndpointHealth?

    public init(judgeName: String, identity: String, endpoint: String?, state: JudgeState, updatedAt: Date, endpointHealth: EndpointHealth? = nil) {
        self.judgeName = judgeName
        self.identity = identity
        self.endpoint = endpoint
        self.state = state
        self.updatedAt = updatedAt
        self.endpointHealth = endpointHealth
    }
}
