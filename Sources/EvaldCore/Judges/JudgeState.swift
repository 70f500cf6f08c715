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
    case paused(JudgePauseReason)
    /// The judge cannot run under this configuration (no endpoint, no API key).
    case skipped(reason: String)

    /// Whether the workers may send it calls.
    public var isRunnable: Bool {
        switch self {
        case .running, .trial: true
        case .paused, .skipped: false
        }
    }

    /// The name stored and printed: `running`, `paused` or `skipped`.
    public var name: String {
        switch self {
        case .running, .trial: "running"
        case .paused: "paused"
        case .skipped: "skipped"
        }
    }

    /// Why, for a person.
    public var reason: String? {
        switch self {
        case .running: nil
        case .trial(let endpoint): "circuit half-open: the next call decides whether endpoint \(endpoint) is back"
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
    case circuitOpen(endpoint: String, until: Date)
    /// The endpoint spent its daily token budget; judging resumes at 00:00 UTC.
    case budgetSpent(endpoint: String, dailyTokenBudget: Int)

    public var description: String {
        switch self {
        case .circuitOpen(let endpoint, let until):
            "circuit open: endpoint \(endpoint) failed repeatedly; next try at \(RFC3339.format(until, fractional: false))"
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

    public init(judgeName: String, identity: String, endpoint: String?, state: JudgeState, updatedAt: Date) {
        self.judgeName = judgeName
        self.identity = identity
        self.endpoint = endpoint
        self.state = state
        self.updatedAt = updatedAt
    }
}
