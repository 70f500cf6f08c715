import EvaldCore
import EvaldStore
import Foundation

/// The segments section of `evald explain a-N` for a regression alert: where the failures
/// concentrate since the alarm's estimated start, against the week before it.
public struct SegmentReport: Sendable {
    public var since: Date
    public var until: Date
    public var baselineSince: Date
    public var traces: Int
    public var failing: Int
    public var baselineTraces: Int
    public var segments: [FailureSegments.Segment]

    /// Evaluations read per period at most (the newest).
    public static let limit = 20_000
    public static let baselineSpan = 7 * 86400.0
    public static let shown = 8

    /// nil for alerts that are not about a pass rate of one series (or lack an estimated start).
    public static func gather(store: StateStore, alert: StoredAlert, numbers: [String: Double], now: Date) throws -> SegmentReport? {
        guard let route = alert.labels["route"], let model = alert.labels["model"], let metric = alert.labels["metric"],
            alert.labels["measure"] == nil, let start = numbers["change_start"]
        else { return nil }
        let since = Date(timeIntervalSince1970: start)
        let until = alert.resolvedAt ?? now
        let current = try store.segmentTraces(route: route, model: model, metric: metric, since: since, until: until, limit: limit)
        guard !current.isEmpty else { return nil }
        let baselineSince = since - baselineSpan
        let baseline = try store.segmentTraces(route: route, model: model, metric: metric, since: baselineSince, until: since, limit: limit)
        return SegmentReport(
            since: since, until: until, baselineSince: baselineSince, traces: current.count, failing: current.count { $0.failed },
            baselineTraces: baseline.count, segments: FailureSegments.analyze(current: current, baseline: baseline))
    }

    public var json: JSONValue {
        func round(_ value: Double?) -> JSONValue { value.map { .double(($0 * 1e4).rounded() / 1e4) } ?? .null }
        return .object([
            ("since", .string(RFC3339.format(since, fractional: false))), ("until", .string(RFC3339.format(until, fractional: false))),
            ("baseline_since", .string(RFC3339.format(baselineSince, fractional: false))), ("traces", .int(Int64(traces))),
            ("failing", .int(Int64(failing))), ("baseline_traces", .int(Int64(baselineTraces))),
            (
                "segments",
                .array(
                    segments.map { s in
                        .object([
                            ("dimension", .string(s.dimension)), ("value", .string(s.value)), ("failures", .int(Int64(s.failures))),
                            ("traces", .int(Int64(s.traces))), ("failure_share", round(s.failureShare)), ("traffic_share", round(s.trafficShare)),
                            ("failure_rate", round(s.failureRate)), ("baseline_failure_rate", round(s.baselineFailureRate)),
                            ("p_value", .double(s.pValue)), ("significant", .bool(s.significant)),
                        ])
                    })
            ),
        ])
    }

    public var text: String {
        var lines = [
            "where the failures concentrate since \(RFC3339.format(since, fractional: false)) (\(traces) traces, \(failing) failing; "
                + "baseline: \(baselineTraces) traces from \(RFC3339.format(baselineSince, fractional: false))):"
        ]
        let significant = segments.filter(\.significant)
        if significant.isEmpty {
            lines.append("    no segment stands out (Bonferroni-corrected over \(segments.count) tried): the regression is spread across the traffic")
        }
        for s in segments.prefix(Self.shown) {
            let baseline = s.baselineFailureRate.map { String(format: ", baseline %.0f%%", $0 * 100) } ?? ""
            let shares = String(format: "%.0f%% of failures, %.0f%% of traffic, fails %.0f%%", s.failureShare * 100, s.trafficShare * 100, s.failureRate * 100)
            lines.append("    \(s.significant ? "*" : " ") \(s.dimension)=\(s.value): \(shares)\(baseline) (p=\(String(format: "%.2g", s.pValue)))")
        }
        if !significant.isEmpty { lines.append("    * significant at 5% after correcting for the \(segments.count) segments tried") }
        return lines.joined(separator: "\n")
    }
}
