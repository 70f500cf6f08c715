import Foundation

/// The baseline of a latency or cost series: count, mean and standard deviation of the
/// natural log of its values (Welford's running update, so it can be kept incrementally).
public struct LogValueBaseline: Codable, Sendable, Equatable {
    public private(set) var samples: Int = 0
    public private(set) var mean: Double = 0
    private var sumOfSquares: Double = 0

    public init() {}

    /// A baseline from kept totals (count, mean and standard deviation of the logs).
    public init(samples: Int, mean: Double, standardDeviation: Double) {
        self.samples = max(0, samples)
        self.mean = mean
        self.sumOfSquares = samples > 1 ? standardDeviation * standardDeviation * Double(samples - 1) : 0
    }

    public init(values: some Sequence<Double>) {
        for value in values { record(value) }
    }

    public var standardDeviation: Double {
        samples > 1 ? (sumOfSquares / Double(samples - 1)).squareRoot() : 0
    }

    /// `detection.baseline_min_samples`.
    public func isReady(minSamples: Int) -> Bool { samples >= minSamples }

    /// Records a positive value (milliseconds, dollars); non-positive values have no log and
    /// are ignored.
    public mutating func record(_ value: Double) {
        guard value > 0, value.isFinite else { return }
        let x = log(value)
        samples += 1
        let delta = x - mean
        mean += delta / Double(samples)
        sumOfSquares += delta * (x - mean)
    }
}
