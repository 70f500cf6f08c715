import EvaldCore
import EvaldStore
import Foundation

/// What `evald compare` shows: the variants of a route (prompt versions or models) side by
/// side, each newer one against the incumbent (the variant with the most evaluations in the
/// period), per metric, with the difference's anytime-valid 95% interval and a verdict.
public struct CompareReport: Sendable {
    public struct Row: Sendable, Equatable {
        public var metric: String
        public var measure: VariantTally.Measure
        public var variant: String
        public var incumbent: String
        public var incumbentArm: ArmTally
        public var variantArm: ArmTally
        /// nil while an arm has too few samples for an interval.
        public var result: VariantDifference?

        public var verdict: VariantDifference.Verdict { result?.verdict ?? .undecided }
    }

    public var route: String
    public var by: ChangeWatch.Dimension
    public var since: Date
    public var incumbent: String?
    public var variants: [VariantSeen]
    public var rows: [Row]

    /// The level of the interval `evald compare` prints.
    public static let alpha = 0.05

    public static func gather(store: StateStore?, route: String, by: ChangeWatch.Dimension, since: Date, minDrop: Double) throws -> CompareReport {
        guard let store else { return CompareReport(route: route, by: by, since: since, incumbent: nil, variants: [], rows: []) }
        let (variants, tallies) = try store.variantTallies(route: route, by: by, since: since)
        return build(route: route, by: by, since: since, variants: variants, tallies: tallies, minDrop: minDrop)
    }

    /// Pure: the rows from the tallies.
    public static func build(
        route: String, by: ChangeWatch.Dimension, since: Date, variants: [VariantSeen], tallies: [VariantTally], minDrop: Double
    ) -> CompareReport {
        let ordered = variants.sorted { ($0.firstAt, $0.variant) < ($1.firstAt, $1.variant) }
        let incumbent = ordered.max { ($0.evaluations, $1.firstAt) < ($1.evaluations, $0.firstAt) }?.variant
        var rows: [Row] = []
        if let incumbent {
            var byKey: [String: [String: VariantTally]] = [:]
            for tally in tallies { byKey["\(tally.metric)#\(tally.measure.rawValue)", default: [:]][tally.variant] = tally }
            for key in byKey.keys.sorted() {
                let arms = byKey[key]!
                guard let base = arms[incumbent] else { continue }
                for seen in ordered where seen.variant != incumbent {
                    guard let other = arms[seen.variant] else { continue }
                    let mean = base.measure == .meanScore
                    let low = [base.lowest, other.lowest].compactMap { $0 }.min() ?? 0
                    let high = [base.highest, other.highest].compactMap { $0 }.max() ?? 1
                    let widest = mean ? max(0.25, (high - low) * (high - low) / 4) : 0.25
                    rows.append(
                        Row(
                            metric: base.metric, measure: base.measure, variant: seen.variant, incumbent: incumbent, incumbentArm: base.arm,
                            variantArm: other.arm,
                            result: VariantDifference.compare(
                                incumbent: base.arm, variant: other.arm, alpha: alpha, minDrop: mean ? 2 * minDrop : minDrop, widestVariance: widest)))
                }
            }
        }
        return CompareReport(route: route, by: by, since: since, incumbent: incumbent, variants: ordered, rows: rows)
    }

    public var worse: [Row] { rows.filter { $0.verdict == .worse } }

    static func level(_ arm: ArmTally, _ measure: VariantTally.Measure, _ wanted: VariantTally.Measure) -> JSONValue {
        measure == wanted && arm.n > 0 ? .double(arm.mean) : .null
    }

    public var json: JSONValue {
        .object([
            ("route", .string(route)),
            ("by", .string(by.rawValue)),
            ("since", .string(RFC3339.format(since, fractional: false))),
            ("incumbent", .optional(incumbent)),
            (
                "variants",
                .array(
                    variants.map {
                        .object([
                            ("variant", .string($0.variant)), ("evaluations", .int(Int64($0.evaluations))),
                            ("first_seen", .string(RFC3339.format($0.firstAt, fractional: false))),
                        ])
                    })
            ),
            (
                "metrics",
                .array(
                    rows.map { row in
                        .object([
                            ("metric", .string(row.metric)),
                            ("measure", .string(row.measure.rawValue)),
                            ("variant", .string(row.variant)),
                            ("incumbent", .string(row.incumbent)),
                            (
                                "variants",
                                .array(
                                    [(row.incumbent, row.incumbentArm), (row.variant, row.variantArm)].map { name, arm in
                                        .object([
                                            ("variant", .string(name)), ("n", .int(Int64(arm.n))),
                                            ("rate", Self.level(arm, row.measure, .passRate)),
                                            ("mean", Self.level(arm, row.measure, .meanScore)),
                                        ])
                                    })
                            ),
                            ("difference", row.variantArm.n > 0 && row.incumbentArm.n > 0 ? .double(row.variantArm.mean - row.incumbentArm.mean) : .null),
                            ("ci_low", row.result.map { .double($0.low) } ?? .null),
                            ("ci_high", row.result.map { .double($0.high) } ?? .null),
                            ("verdict", .string(row.verdict.rawValue)),
                        ])
                    })
            ),
        ])
    }

    public var text: String {
        guard let incumbent else {
            return "No evaluations of \(route) with a \(by.rawValue) since \(RFC3339.format(since, fractional: false))."
        }
        var lines = [
            "\(route) by \(by.rawValue) since \(RFC3339.format(since, fractional: false)): incumbent \(incumbent); "
                + variants.map { "\($0.variant) (\($0.evaluations) evaluations)" }.joined(separator: ", ")
        ]
        if rows.isEmpty { lines.append("Only one variant answered: nothing to compare.") }
        func shown(_ arm: ArmTally, _ measure: VariantTally.Measure) -> String {
            measure == .meanScore ? String(format: "%.2f", arm.mean) : AlertCatalog.rate(arm.mean)
        }
        for row in rows {
            let what = row.measure == .meanScore ? "\(row.metric) (mean score)" : row.metric
            var line =
                "\(row.verdict.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) \(what): \(row.variant) \(shown(row.variantArm, row.measure)) (n=\(row.variantArm.n)) vs \(row.incumbent) \(shown(row.incumbentArm, row.measure)) (n=\(row.incumbentArm.n))"
            if let result = row.result {
                line += String(format: ", difference %+.3f, 95%% anytime-valid interval [%+.3f, %+.3f]", result.difference, result.low, result.high)
            } else {
                line += ", too few samples for an interval (\(VariantDifference.minSamples) per variant)"
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
