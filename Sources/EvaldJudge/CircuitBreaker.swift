import EvaldHTTP
import Foundation
import NIOConcurrencyHelpers

/// One endpoint's circuit breaker (Nygard, "Release It!"): after `failureThreshold`
/// consecutive failed calls it opens for `openFor` seconds, during which calls fail
/// without a request; then one trial call decides between closing and opening again.
final class CircuitBreaker: Sendable {
    enum Admission: Equatable {
        /// Admitted while closed.
        case normal
        /// The one call let through after the open period.
        case trial
    }

    /// What a finished call says about the endpoint's health.
    enum Outcome: Equatable {
        case success
        case failure
        /// Says nothing (the call was cancelled or gave up because the circuit opened).
        case neutral
    }

    private enum State: Equatable {
        case closed(consecutiveFailures: Int)
        case open(until: Date)
        case halfOpen(trialInFlight: Bool)
    }

    private let policy: CircuitBreakerPolicy
    private let state = NIOLockedValueBox(State.closed(consecutiveFailures: 0))

    init(policy: CircuitBreakerPolicy) {
        self.policy = CircuitBreakerPolicy(failureThreshold: max(1, policy.failureThreshold), openFor: max(0, policy.openFor))
    }

    /// nil: fail fast, the circuit is open (or a trial call is already out).
    func admit(now: Date) -> Admission? {
        state.withLockedValue { state in
            switch state {
            case .closed:
                return .normal
            case .open(let until):
                guard now >= until else { return nil }
                state = .halfOpen(trialInFlight: true)
                return .trial
            case .halfOpen(let trialInFlight):
                guard !trialInFlight else { return nil }
                state = .halfOpen(trialInFlight: true)
                return .trial
            }
        }
    }

    /// Whether a call admitted earlier may send another attempt: once other calls have
    /// opened the circuit, its retries would only add load to a failing endpoint.
    func mayContinue(_ admission: Admission) -> Bool {
        if admission == .trial { return true }
        return state.withLockedValue { state in
            if case .closed = state { return true }
            return false
        }
    }

    func record(_ outcome: Outcome, admission: Admission, now: Date) {
        state.withLockedValue { state in
            switch admission {
            case .trial:
                switch outcome {
                case .success: state = .closed(consecutiveFailures: 0)
                case .failure: state = .open(until: now + policy.openFor)
                case .neutral: state = .halfOpen(trialInFlight: false)
                }
            case .normal:
                // A call admitted before the circuit opened says nothing about the trial.
                guard case .closed(let failures) = state else { return }
                switch outcome {
                case .success:
                    state = .closed(consecutiveFailures: 0)
                case .failure:
                    state =
                        failures + 1 >= policy.failureThreshold
                        ? .open(until: now + policy.openFor)
                        : .closed(consecutiveFailures: failures + 1)
                case .neutral:
                    break
                }
            }
        }
    }

    func current(now: Date) -> CircuitState {
        state.withLockedValue { state in
            switch state {
            case .closed: .closed
            case .open(let until): now < until ? .open(until: until) : .halfOpen
            case .halfOpen: .halfOpen
            }
        }
    }

    var openUntil: Date? {
        state.withLockedValue { state in
            if case .open(let until) = state { return until }
            return nil
        }
    }
}
