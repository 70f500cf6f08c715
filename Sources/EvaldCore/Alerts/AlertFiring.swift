import Foundation

/// What is needed to fire an alert.
public struct AlertFiring: Sendable {
    public var name: String
    public var severity: String
    public var labels: [String: String]
    public var annotations: [String: String]
    public var fingerprint: String
    /// The numbers behind the decision (baseline, current, n, statistic, threshold...).
    public var numbers: [String: Double]
    /// Evaluation ids behind it (up to 5 are kept).
    public var examples: [Int64]

    public init(
        name: String, severity: String, labels: [String: String], annotations: [String: String], fingerprint: String,
        numbers: [String: Double] = [:], examples: [Int64] = []
    ) {
        self.name = name
        self.severity = severity
        self.labels = labels
        self.annotations = annotations
        self.fingerprint = fingerprint
        self.numbers = numbers
        self.examples = examples
    }
}

/// What a round (detection, the canary) decided about alerts, applied in order with its state.
public enum DetectionAlertAction: Sendable {
    case fire(AlertFiring, receivers: [String])
    /// Resolves the open alert with this fingerprint, if there is one.
    case resolve(fingerprint: String, numbers: [String: Double], receivers: [String])
}
