import Foundation

/// The state of an endpoint's circuit breaker, as reported (e.g. on the status page).
public enum CircuitState: Sendable, Equatable {
    case closed
    /// Calls fail fast with `.circuitOpen` until this time.
    case open(until: Date)
    /// The open period is over: the next call is let through as a trial.
    case halfOpen
}
