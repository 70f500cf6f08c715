/// What a CUSUM says after one sample.
public enum CUSUMDecision: Sendable, Equatable {
    /// Nothing to report.
    case quiet
    /// S is past half its threshold: a regression is suspected but not confirmed. The daemon
    /// may raise the route's sampling rate (confirmation boost).
    case suspect
    /// S reached its threshold.
    case alarm(CUSUMAlarm)

    public var isAlarm: Bool {
        if case .alarm = self { return true }
        return false
    }
}

/// The numbers behind an alarm, for the alert's annotations.
public struct CUSUMAlarm: Sendable, Equatable {
    /// S when it crossed.
    public var statistic: Double
    /// h.
    public var threshold: Double
    /// Index (0-based, in samples fed) of the estimated first changed sample: the last time
    /// S was 0 (Page 1954).
    public var changePointIndex: Int
    /// Samples from the estimated change to the alarm, inclusive.
    public var samplesSinceChange: Int

    public init(statistic: Double, threshold: Double, changePointIndex: Int, samplesSinceChange: Int) {
        self.statistic = statistic
        self.threshold = threshold
        self.changePointIndex = changePointIndex
        self.samplesSinceChange = samplesSinceChange
    }
}
