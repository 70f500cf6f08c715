/// Turns the deployment's false-alarm budget, set in time (`detection.false_alarm_every`),
/// into an in-control average run length in samples for one series.
///
/// A CUSUM's in-control run length is close to geometric, so a series sampled at r per
/// second with ARL L raises false alarms at about r / L per second. With k series the
/// deployment's rate is the sum; giving each series an equal share, sum r_i / L_i = 1 / T,
/// means L_i = T x r_i x k. (Multiplying the ARL by k is, to first order, adding ln k to
/// the threshold: ARL grows like exp(h), Siegmund 1985.)
public enum DetectionBudget {
    /// - Parameters:
    ///   - falseAlarmEvery: T in seconds: at most one false alarm in this time across all series.
    ///   - sampledPerSecond: the sampled rate this series observes (evaluations per second).
    ///   - seriesCount: k, the number of series sharing the budget.
    ///   - minimum: a floor in samples, so a nearly idle series does not get a hair trigger;
    ///     the floor only makes false alarms rarer than the budget.
    public static func targetARL(
        falseAlarmEvery: Double, sampledPerSecond: Double, seriesCount: Int,
        minimum: Double = 1_000
    ) -> Double {
        max(minimum, falseAlarmEvery * max(0, sampledPerSecond) * Double(max(1, seriesCount)))
    }
}
