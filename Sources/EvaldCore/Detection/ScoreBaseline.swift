/// The baseline of a 1-5 judge-score series: its own histogram of scores.
public struct ScoreBaseline: Codable, Sendable, Equatable {
    /// counts[0] is the number of 1s, ..., counts[4] the number of 5s.
    public var counts: [Int]

    public init(counts: [Int]) {
        precondition(counts.count == 5 && counts.allSatisfy { $0 >= 0 })
        self.counts = counts
    }

    public var samples: Int { counts.reduce(0, +) }

    /// The empirical distribution of scores 1...5.
    public var probabilities: [Double] {
        let n = Double(max(1, samples))
        return counts.map { Double($0) / n }
    }

    public var mean: Double {
        zip(1...5, probabilities).reduce(0) { $0 + Double($1.0) * $1.1 }
    }

    public var standardDeviation: Double {
        let m = mean
        let variance = zip(1...5, probabilities).reduce(0) { $0 + (Double($1.0) - m) * (Double($1.0) - m) * $1.1 }
        return variance.squareRoot()
    }

    /// `detection.baseline_min_samples`.
    public func isReady(minSamples: Int) -> Bool { samples >= minSamples }

    public mutating func record(score: Int) {
        precondition((1...5).contains(score))
        counts[score - 1] += 1
    }
}
