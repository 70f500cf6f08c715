import EvaldTesting

/// Uniform in [0, 1) from the seeded generator.
func uniform(_ rng: inout SplitMix64) -> Double {
    Double(rng.next() >> 11) / Double(1 << 53)
}

/// A score 1...n drawn from `probabilities`.
func score(_ rng: inout SplitMix64, _ probabilities: [Double]) -> Int {
    var u = uniform(&rng)
    for (index, p) in probabilities.enumerated() {
        if u < p { return index + 1 }
        u -= p
    }
    return probabilities.count
}
