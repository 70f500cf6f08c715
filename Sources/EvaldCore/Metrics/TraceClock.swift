import Foundation

/// Trace time is what rollups and detectors go by (a backfill counts when it happened), but
/// a writer's clock can be wrong. A timestamp in the past is taken as it is: it lands in old
/// minutes, which retention prunes after `rollup_days`, and detection reads it in the order
/// evald stored it. A timestamp more than `maxAhead` in the future (a clock a year ahead,
/// milliseconds written as seconds) is taken as `now + maxAhead`: otherwise it would sit in
/// minutes no window reaches until then, outlive retention, and age every detector's
/// baseline out. The record itself keeps the timestamp it was written with.
public enum TraceClock {
    public static let maxAhead: TimeInterval = 3600

    public static func clamped(_ timestamp: Date, now: Date) -> Date { min(timestamp, now + maxAhead) }
}
