import Foundation

/// Metric names: `check:NAME`, `judge:NAME`, `op:*`.
public enum MetricName {
    public static func check(_ name: String) -> String { "check:\(name)" }
    /// Series are kept per judge identity (`judge:helpfulness@3+1a2b3c4d`): editing a rubric
    /// starts a new series instead of looking like a regression.
    public static func judge(identity: String) -> String { "judge:\(identity)" }
    public static let errorRate = "op:error_rate"
    public static let latency = "op:latency_ms"
    public static let cost = "op:cost_usd"
    public static let outputTokens = "op:output_tokens"
}

/// A series (metric, route, model) in one minute of trace time.
public struct RollupKey: Hashable, Sendable {
    public var metric: String
    /// "" for traces without a route.
    public var route: String
    public var model: String
    /// Unix minutes of the trace's timestamp.
    public var minute: Int64

    /// The Unix minute a time falls in.
    public static func minute(of date: Date) -> Int64 { Int64((date.timeIntervalSince1970 / 60).rounded(.down)) }

    public init(metric: String, route: String, model: String, minute: Int64) {
        self.metric = metric
        self.route = route
        self.model = model
        self.minute = minute
    }
}

/// Sums that add up across minutes: counts for pass rates, moments for means and spreads,
/// a histogram where quantiles are wanted (latency).
public struct RollupCell: Sendable, Equatable {
    public var n: Int64 = 0
    /// Outcomes that passed (a check passed; for `op:error_rate`, a call that did not fail).
    public var passN: Int64 = 0
    public var sum: Double = 0
    public var sumSquares: Double = 0
    public var histogram: LogHistogram?

    public init() {}

    public mutating func addPass(_ passed: Bool) {
        n += 1
        if passed { passN += 1 }
    }

    public mutating func addValue(_ value: Double, histogram withHistogram: Bool = false) {
        n += 1
        sum += value
        sumSquares += value * value
        if withHistogram {
            if histogram == nil { histogram = LogHistogram() }
            histogram!.record(value)
        }
    }

    /// A judge verdict: one outcome feeding both the pass rate and the mean score.
    public mutating func addScore(_ score: Double, passed: Bool) {
        n += 1
        if passed { passN += 1 }
        sum += score
        sumSquares += score * score
    }

    public mutating func merge(_ other: RollupCell) {
        n += other.n
        passN += other.passN
        sum += other.sum
        sumSquares += other.sumSquares
        if let h = other.histogram {
            if histogram == nil { histogram = LogHistogram() }
            histogram!.merge(h)
        }
    }
}

/// The operational series of one (route, model, minute), kept together in one row because
/// every trace feeds all four: one write a trace instead of four.
public struct OperationalCell: Sendable, Equatable {
    /// n = calls, passN = calls that did not fail (`op:error_rate` is 1 - passN/n).
    public var calls = RollupCell()
    public var latency = RollupCell()
    public var cost = RollupCell()
    public var outputTokens = RollupCell()

    public init() {}

    /// The four series by metric name.
    public var series: [(metric: String, cell: RollupCell)] {
        [(MetricName.errorRate, calls), (MetricName.latency, latency), (MetricName.cost, cost), (MetricName.outputTokens, outputTokens)]
    }
}

/// The rollup deltas of a batch of evaluations, written in the same transaction as the scores.
public struct RollupBatch: Sendable {
    /// Per-check (and later per-judge) series; `minute` in the key.
    public private(set) var cells: [RollupKey: RollupCell] = [:]
    /// Operational series by (route, model, minute); `metric` in the key is empty.
    public private(set) var operational: [RollupKey: OperationalCell] = [:]

    public init() {}

    public var isEmpty: Bool { cells.isEmpty && operational.isEmpty }

    public mutating func addJudgeScore(
        identity: String, route: String?, model: String, at timestamp: Date, score: Double, passed: Bool, judgedAt: Date? = nil
    ) {
        let minute = RollupKey.minute(of: judgedAt.map { TraceClock.clamped(timestamp, now: $0) } ?? timestamp)
        let key = RollupKey(metric: MetricName.judge(identity: identity), route: route ?? "", model: model, minute: minute)
        cells[key, default: RollupCell()].addScore(score, passed: passed)
    }

    /// - Parameter readAt: when evald read the record: a timestamp more than
    ///   `TraceClock.maxAhead` after it is counted at that limit (see `TraceClock`).
    public mutating func add(_ record: TraceRecord, checks: [CheckResult], readAt: Date? = nil) {
        let minute = RollupKey.minute(of: readAt.map { TraceClock.clamped(record.timestamp, now: $0) } ?? record.timestamp)
        let route = record.route ?? ""
        let opKey = RollupKey(metric: "", route: route, model: record.model, minute: minute)
        var op = operational[opKey] ?? OperationalCell()
        op.calls.addPass(record.status != .error)
        if let latency = record.latencyMs { op.latency.addValue(latency, histogram: true) }
        if let cost = record.costUSD { op.cost.addValue(cost) }
        if let tokens = record.outputTokens { op.outputTokens.addValue(Double(tokens)) }
        operational[opKey] = op
        for check in checks {
            cells[RollupKey(metric: MetricName.check(check.name), route: route, model: record.model, minute: minute), default: RollupCell()]
                .addPass(check.passed)
        }
    }
}
