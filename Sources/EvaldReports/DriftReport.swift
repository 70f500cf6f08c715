import EvaldCore
import EvaldStore
import Foundation

/// What `evald drift` shows: per (route, model), the provider versions seen and
/// every switch with its drift-watch state, per metric.
public struct DriftReport: Sendable {
    public var watches: [ProviderVersionWatch]

    public static func gather(store: StateStore?) throws -> DriftReport {
        guard let store else { return DriftReport(watches: []) }
        let decoder = DetectionStateCodec.decoder()
        let watches = try store.detectionStates(kind: DetectionStateCodec.versionsKind).values.compactMap {
            try? decoder.decode(ProviderVersionWatch.self, from: Data($0.utf8))
        }
        return DriftReport(watches: watches.sorted { ($0.route, $0.model) < ($1.route, $1.model) })
    }

    /// Switches whose new version drifted and is still the one answering.
    public var drifting: [ProviderVersionWatch.Switch] {
        watches.flatMap { $0.switches.filter { $0.state == .drift && !$0.superseded } }
    }

    static func time(_ t: Double) -> String { RFC3339.format(Date(timeIntervalSince1970: t), fractional: false) }

    static func verdict(_ test: ProviderVersionWatch.MetricTest) -> String { test.test.verdict.rawValue }

    public var json: JSONValue {
        .object([
            (
                "watches",
                .array(
                    watches.map { watch in
                        .object([
                            ("route", .string(watch.route)),
                            ("model", .string(watch.model)),
                            ("current_version", .optional(watch.current)),
                            (
                                "versions",
                                .array(
                                    watch.versions.sorted { $0.value.firstSeenAt < $1.value.firstSeenAt }.map { version, stats in
                                        .object([
                                            ("version", .string(version)), ("first_seen", .string(Self.time(stats.firstSeenAt))),
                                            ("first_evaluation", .string("e-\(stats.firstEvaluationID)")), ("samples", .int(Int64(stats.samples))),
                                        ])
                                    })
                            ),
                            (
                                "switches",
                                .array(
                                    watch.switches.reversed().map { change in
                                        .object([
                                            ("version_before", .string(change.before)),
                                            ("version_after", .string(change.after)),
                                            ("at", .string(Self.time(change.at))),
                                            ("evaluation", .string("e-\(change.evaluationID)")),
                                            ("state", .string(change.state.rawValue)),
                                            ("superseded", .bool(change.superseded)),
                                            (
                                                "metrics",
                                                .array(
                                                    change.tests.sorted { $0.key < $1.key }.map { metric, test in
                                                        .object([
                                                            ("metric", .string(metric)),
                                                            ("verdict", .string(Self.verdict(test))),
                                                            ("rate_before", .double(test.oldPassRate)),
                                                            ("n_before", .int(Int64(test.oldSamples))),
                                                            ("rate_after", test.test.samples > 0 ? .double(1 - test.test.newFailRate) : .null),
                                                            ("n_after", .int(Int64(test.test.samples))),
                                                            ("statistic", .double(test.test.logLikelihoodRatio)),
                                                            ("threshold", .double(test.test.logThreshold)),
                                                        ])
                                                    }
                                                        + change.meanTests.sorted { $0.key < $1.key }.map { metric, test in
                                                            .object([
                                                                ("metric", .string(String(metric.dropLast(ProviderVersionWatch.meanScoreSuffix.count)))),
                                                                ("measure", .string("mean_score")),
                                                                ("verdict", .string(test.test.drifted ? "drift" : "undecided")),
                                                                ("mean_before", .double(test.test.oldMean)),
                                                                ("n_before", .int(Int64(test.oldSamples))),
                                                                ("mean_after", test.test.samples > 0 ? .double(test.test.newMean) : .null),
                                                                ("n_after", .int(Int64(test.test.samples))),
                                                                ("statistic", .double(test.test.logStatistic)),
                                                                ("threshold", .double(test.test.logThreshold)),
                                                            ])
                                                        })
                                            ),
                                        ])
                                    })
                            ),
                        ])
                    })
            )
        ])
    }

    public var text: String {
        guard !watches.isEmpty else {
            return "no provider versions seen yet (records need response_model or system_fingerprint)"
        }
        var lines: [String] = []
        for watch in watches {
            lines.append(
                "\(watch.route.isEmpty ? "(no route)" : watch.route)/\(watch.model): answering with \(watch.current ?? "-") (\(watch.versions.count) version\(watch.versions.count == 1 ? "" : "s") seen)"
            )
            if watch.switches.isEmpty { lines.append("  no version change seen") }
            for change in watch.switches.reversed() {
                let state: String
                switch change.state {
                case .watching: state = "watching"
                case .drift: state = "DRIFT"
                case .noDrift: state = "no drift"
                case .insufficientBaseline: state = "not tested: the previous version had too few samples"
                case .inconclusive: state = "inconclusive: too few samples on some metric"
                }
                lines.append(
                    "  \(Self.time(change.at))  \(change.before) -> \(change.after)  \(state)\(change.superseded ? " (superseded)" : "")  first seen in e-\(change.evaluationID)"
                )
                for (metric, test) in change.tests.sorted(by: { $0.key < $1.key }) {
                    let after = test.test.samples > 0 ? String(format: "%.3f", 1 - test.test.newFailRate) : "-"
                    lines.append(
                        "    \(metric): \(Self.verdict(test)); pass rate \(String(format: "%.3f", test.oldPassRate)) (n=\(test.oldSamples)) -> \(after) (n=\(test.test.samples)); log LR \(String(format: "%.2f", test.test.logLikelihoodRatio)) / \(String(format: "%.2f", test.test.logThreshold))"
                    )
                }
                for (metric, test) in change.meanTests.sorted(by: { $0.key < $1.key }) {
                    let after = test.test.samples > 0 ? String(format: "%.2f", test.test.newMean) : "-"
                    lines.append(
                        "    \(metric.dropLast(ProviderVersionWatch.meanScoreSuffix.count)) mean score: \(test.test.drifted ? "drift" : "undecided"); \(String(format: "%.2f", test.test.oldMean)) (n=\(test.oldSamples)) -> \(after) (n=\(test.test.samples)); log wealth \(String(format: "%.2f", test.test.logStatistic)) / \(String(format: "%.2f", test.test.logThreshold))"
                    )
                }
            }
        }
        return lines.joined(separator: "\n")
    }
}
