/// The persisted state of one CUSUM: small and Codable so the daemon can store it beside
/// the series and resume exactly where it stopped after a restart.
///
/// `statistic` is S of Page (1954), S_n = max(0, S_{n-1} + increment). The detectors move
/// S on a lattice (multiples of their `unit`) so that the Brook-Evans Markov chain that
/// sets their threshold is exact for the detector as implemented, not an approximation.
public struct CUSUMState: Codable, Sendable, Equatable {
    /// S, the CUSUM statistic.
    public var statistic: Double
    /// Samples since S was last 0: the length of the current excursion.
    public var samplesSinceZero: Int
    /// `samplesSeen` at the last time S was 0. The sample with this index (0-based) is the
    /// estimated first changed sample: the maximum-likelihood change point of the CUSUM
    /// (Page 1954) is the end of its last visit to zero.
    public var lastZeroIndex: Int
    /// Samples fed to the detector since it was created or reset.
    public var samplesSeen: Int

    public init(statistic: Double = 0, samplesSinceZero: Int = 0, lastZeroIndex: Int = 0, samplesSeen: Int = 0) {
        self.statistic = statistic
        self.samplesSinceZero = samplesSinceZero
        self.lastZeroIndex = lastZeroIndex
        self.samplesSeen = samplesSeen
    }
}
