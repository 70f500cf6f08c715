/// When an endpoint's circuit opens and for how long.
public struct CircuitBreakerPolicy: Sendable, Equatable {
    /// Consecutive failed calls (each with all its retries) that open the circuit.
    public var failureThreshold: Int = 5
    /// Seconds the circuit stays open before a trial call.
    public var openFor: Double = 30

    public init(failureThreshold: Int = 5, openFor: Double = 30) {
        self.failureThreshold = failureThreshold
        self.openFor = openFor
    }
}
