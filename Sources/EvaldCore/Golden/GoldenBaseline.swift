import Foundation

/// `golden/NAME/baseline.json`: the metrics of an accepted run, written by
/// `evald gate NAME --write-baseline`, and the per-metric tolerances that override the default
/// (`"tolerances": {"check:no-pii": 0}`: not one more leak). Rewriting the baseline keeps the
/// tolerances a person wrote.
public struct GoldenBaseline: Codable, Sendable, Equatable {
    public static let fileName = "baseline.json"
    public static let currentVersion = 1

    public var version: Int
    public var set: String
    public var writtenAt: String
    public var cases: Int
    public var metrics: [GoldenMetric]
    public var tolerances: [String: Double]

    public init(set: String, cases: Int, metrics: [GoldenMetric], tolerances: [String: Double] = [:], writtenAt: Date) {
        self.version = Self.currentVersion
        self.set = set
        self.writtenAt = RFC3339.format(writtenAt, fractional: false)
        self.cases = cases
        self.metrics = metrics
        self.tolerances = tolerances
    }

    enum CodingKeys: String, CodingKey {
        case version, set, cases, metrics, tolerances
        case writtenAt = "written_at"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(Int.self, forKey: .version)
        set = try c.decodeIfPresent(String.self, forKey: .set) ?? ""
        writtenAt = try c.decodeIfPresent(String.self, forKey: .writtenAt) ?? ""
        cases = try c.decodeIfPresent(Int.self, forKey: .cases) ?? 0
        metrics = try c.decode([GoldenMetric].self, forKey: .metrics)
        tolerances = try c.decodeIfPresent([String: Double].self, forKey: .tolerances) ?? [:]
    }

    public func serialized() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Every value is finite (rates and means of finite scores), so encoding cannot fail.
        let data = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public static func parse(_ bytes: [UInt8], path: String) throws(GoldenLockError) -> GoldenBaseline {
        let baseline: GoldenBaseline
        do {
            baseline = try JSONDecoder().decode(GoldenBaseline.self, from: Data(bytes))
        } catch {
            throw GoldenLockError(
                path: path, message: "is not a baseline file (\(Self.describe(error))); write it again with `evald gate NAME --write-baseline`")
        }
        guard baseline.version == currentVersion else {
            throw GoldenLockError(
                path: path,
                message: "has version \(baseline.version); this evald reads version \(currentVersion); write it again with `evald gate NAME --write-baseline`")
        }
        for (metric, tolerance) in baseline.tolerances where !(tolerance.isFinite && tolerance >= 0) {
            throw GoldenLockError(path: path, message: "tolerances.\(metric) must be a number >= 0")
        }
        return baseline
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing \"\((context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."))\""
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong type at \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\""
        case DecodingError.dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "bad value at \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\""
        default:
            return "\(error)"
        }
    }
}

/// One line of the gate's table.
public struct GateRow: Codable, Sendable, Equatable {
    public enum Verdict: String, Codable, Sendable {
        case ok, improved, regressed
        /// In this run, not in the baseline: reported, not a failure.
        case new
        /// In the baseline, not in this run (a check removed, a judge skipped): a warning, not a failure.
        case gone
    }

    public var metric: String
    public var kind: GoldenMetric.Kind
    public var n: Int?
    public var baselineN: Int?
    public var baseline: Double?
    public var current: Double?
    public var delta: Double?
    public var tolerance: Double?
    /// Where the tolerance came from: "default" (the baseline's interval) or "override".
    public var toleranceSource: String?
    public var ciLow: Double?
    public var ciHigh: Double?
    public var verdict: Verdict

    enum CodingKeys: String, CodingKey {
        case metric, kind, n, baseline, current, delta, tolerance, verdict
        case baselineN = "baseline_n", toleranceSource = "tolerance_source", ciLow = "ci_low", ciHigh = "ci_high"
    }

    // Explicit nulls: `--json` is a stable interface and a missing key reads as a bug.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(metric, forKey: .metric)
        try c.encode(kind, forKey: .kind)
        try c.encode(n, forKey: .n)
        try c.encode(baselineN, forKey: .baselineN)
        try c.encode(baseline, forKey: .baseline)
        try c.encode(current, forKey: .current)
        try c.encode(delta, forKey: .delta)
        try c.encode(tolerance, forKey: .tolerance)
        try c.encode(toleranceSource, forKey: .toleranceSource)
        try c.encode(ciLow, forKey: .ciLow)
        try c.encode(ciHigh, forKey: .ciHigh)
        try c.encode(verdict, forKey: .verdict)
    }
}

public struct GateReport: Codable, Sendable, Equatable {
    public var rows: [GateRow]

    public var regressed: [GateRow] { rows.filter { $0.verdict == .regressed } }
    public var passed: Bool { regressed.isEmpty }
    /// One line per metric the baseline has and this run lacks, and per judge metric this run
    /// has and the baseline lacks (a baseline written without a judge endpoint, as the shipped
    /// examples are: the judge's numbers are shown, not gated).
    public var warnings: [String] {
        rows.filter { $0.verdict == .gone }.map {
            "warning: \($0.metric) is in the baseline but not in this run (a check removed or renamed, or a judge skipped or erroring); it is not compared"
        }
            + rows.filter { $0.verdict == .new && $0.metric.hasPrefix("judge:") }.map {
                "warning: \($0.metric) is not in the baseline (written without this judge's endpoint); it is shown, not compared: once its results are accepted, write the baseline with --write-baseline"
            }
    }
}

/// Compares a run's metrics with a baseline (the CI gate, `evald gate`).
public enum GoldenGate {
    /// The tolerance a metric gets unless the baseline file or `--tolerance` says otherwise:
    /// the lower half-width of the baseline's own 95% Wilson interval (for a mean score, of the
    /// mean mapped onto [0, 1], see GoldenMetric.interval). So the gate fails exactly when the
    /// new value falls below the baseline's lower 95% bound: a drop that the baseline's own
    /// sampling noise (n cases) cannot explain. It widens on small sets, where one case moves
    /// the rate a lot, and narrows as the set grows; unlike a normal-approximation interval it
    /// is not 0 at a 100% pass rate, where one flaky judge verdict must not fail CI. Metrics
    /// that must not drop at all (no-pii) get an explicit tolerance of 0.
    public static func defaultTolerance(_ baseline: GoldenMetric) -> Double {
        max(0, baseline.value - baseline.ciLow)
    }

    /// Deltas this small are rounding, not change (values go through JSON).
    static let epsilon = 1e-9

    public static func compare(current: [GoldenMetric], baseline: GoldenBaseline, overrides: [String: Double] = [:]) -> GateReport {
        let before = Dictionary(baseline.metrics.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let now = Dictionary(current.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var rows: [GateRow] = []
        // Current order first (checks, then judges), then what is gone.
        let names = current.map(\.name) + baseline.metrics.map(\.name).filter { now[$0] == nil }
        for name in names {
            let old = before[name], new = now[name]
            var row = GateRow(
                metric: name, kind: (new ?? old)!.kind, n: new?.n, baselineN: old?.n, baseline: old?.value, current: new?.value,
                delta: nil, tolerance: nil, toleranceSource: nil, ciLow: new?.ciLow, ciHigh: new?.ciHigh, verdict: .ok)
            switch (old, new) {
            case let (old?, new?):
                let delta = new.value - old.value
                let explicit = overrides[name] ?? baseline.tolerances[name]
                let tolerance = explicit ?? defaultTolerance(old)
                row.delta = delta
                row.tolerance = tolerance
                row.toleranceSource = explicit == nil ? "default" : "override"
                if delta < -(tolerance + epsilon) {
                    row.verdict = .regressed
                } else if delta > tolerance + epsilon, delta > epsilon {
                    row.verdict = .improved
                }
            case (nil, _?): row.verdict = .new
            default: row.verdict = .gone
            }
            rows.append(row)
        }
        return GateReport(rows: rows)
    }
}
