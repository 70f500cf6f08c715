/// A pass-rate series' baseline, estimated from its own history (a long window that excludes
/// periods under alert; the daemon chooses the window, this type only counts).
public struct PassRateBaseline: Codable, Sendable, Equatable {
    public var samples: Int
    public var passes: Int

    public init(samples: Int, passes: Int) {
        precondition(samples >= 0 && passes >= 0 && passes <= samples)
        self.samples = samples
        self.passes = passes
    }

    public var failures: Int { samples - passes }
    public var passRate: Double { samples == 0 ? .nan : Double(passes) / Double(samples) }

    /// The fail rate a detector is designed around: (failures + 1/2) / (samples + 1), the
    /// Jeffreys-style estimate, so a spotless history (0 failures) still gives a finite
    /// log-likelihood ratio instead of ln 0.
    public var failRate: Double { (Double(failures) + 0.5) / (Double(samples) + 1) }

    /// The Wilson upper bound of the fail rate at `z` (Wilson 1927; `WilsonInterval`).
    public func failRateUpperBound(z: Double) -> Double {
        guard samples > 0, z > 0 else { return failRate }
        let bounds = WilsonInterval.bounds(passes: Int64(failures), n: Int64(samples), z: z)!
        return max(failRate, bounds.high)
    }

    /// `detection.baseline_min_samples`: no detector may fire on a baseline smaller than this.
    public func isReady(minSamples: Int) -> Bool { samples >= minSamples }

    public mutating func record(passed: Bool) {
        samples += 1
        if passed { passes += 1 }
    }
}
