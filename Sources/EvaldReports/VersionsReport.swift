import EvaldCore
import EvaldStore
import Foundation

/// What `evald versions` shows: the lineage of each route, every combination of prompt
/// version, model and provider version (`response_model` + fingerprint) seen, with first and
/// last seen, n, the headline rates, and the change that started it; and the judge versions.
public struct VersionsReport: Sendable {
    /// The change a combination started with.
    public struct Start: Sendable, Equatable {
        /// `deploy`, `prompt_slice`, `model_swap`, `model_slice` or `provider_switch`.
        public var change: String
        public var from: String
        public var to: String
        public var at: Double
        public var rolledBack: Bool
    }

    public struct Entry: Sendable, Equatable {
        public var combination: LineageCombination
        /// nil: no recorded change (the route's initial mix, or before detection saw it).
        public var startedBy: Start?
    }

    public var entries: [Entry]
    public var judges: [LineageJudge]

    public init(entries: [Entry], judges: [LineageJudge]) {
        self.entries = entries
        self.judges = judges
    }

    public static func gather(store: StateStore?, route: String?) throws -> VersionsReport {
        guard let store else { return VersionsReport(entries: [], judges: []) }
        let decoder = DetectionStateCodec.decoder()
        let changes = try store.detectionStates(kind: DetectionStateCodec.changesKind).values.compactMap {
            try? decoder.decode(ChangeWatch.self, from: Data($0.utf8))
        }
        let providers = try store.detectionStates(kind: DetectionStateCodec.versionsKind).values.compactMap {
            try? decoder.decode(ProviderVersionWatch.self, from: Data($0.utf8))
        }
        return build(combinations: try store.lineage(route: route), changes: changes, providers: providers, judges: try store.judgeLineage())
    }

    /// Pure: which change started each combination. A change started it when the changed value is
    /// the combination's and the change's first answer lies within an hour before its first
    /// sighting (the nearest such change wins).
    public static func build(
        combinations: [LineageCombination], changes: [ChangeWatch], providers: [ProviderVersionWatch], judges: [LineageJudge]
    ) -> VersionsReport {
        let entries = combinations.map { combination -> Entry in
            let first = combination.firstSeen.timeIntervalSince1970
            var best: Start?
            func consider(_ start: Start) {
                guard start.at <= first + 1, first - start.at <= 3600 else { return }
                if best == nil || first - start.at < first - best!.at { best = start }
            }
            for watch in changes where watch.route == combination.route {
                let value = watch.dimension == .promptVersion ? combination.promptVersion : combination.model
                for change in watch.changes where change.after == value {
                    let kind =
                        watch.dimension == .promptVersion
                        ? (change.kind == .slice ? "prompt_slice" : "deploy") : (change.kind == .slice ? "model_slice" : "model_swap")
                    consider(Start(change: kind, from: change.before, to: change.after, at: change.at, rolledBack: change.rolledBack))
                }
            }
            let version = ProviderVersionWatch.version(responseModel: combination.responseModel, systemFingerprint: combination.systemFingerprint)
            for watch in providers where watch.route == combination.route && watch.model == combination.model {
                for change in watch.switches where change.after == version {
                    consider(Start(change: "provider_switch", from: change.before, to: change.after, at: change.at, rolledBack: false))
                }
            }
            return Entry(combination: combination, startedBy: best)
        }
        return VersionsReport(entries: entries, judges: judges)
    }

    static func time(_ date: Date) -> String { RFC3339.format(date, fractional: false) }

    static func rate(_ passes: Int, _ n: Int) -> JSONValue { n > 0 ? .double(Double(passes) / Double(n)) : .null }

    public var json: JSONValue {
        var routes: [String] = []
        for entry in entries where !routes.contains(entry.combination.route) { routes.append(entry.combination.route) }
        return .object([
            (
                "routes",
                .array(
                    routes.map { route in
                        .object([
                            ("route", .string(route)),
                            (
                                "combinations",
                                .array(
                                    entries.filter { $0.combination.route == route }.map { entry in
                                        let c = entry.combination
                                        return .object([
                                            ("prompt_version", .optional(c.promptVersion)),
                                            ("model", .string(c.model)),
                                            ("response_model", .optional(c.responseModel)),
                                            ("system_fingerprint", .optional(c.systemFingerprint)),
                                            ("first_seen", .string(Self.time(c.firstSeen))),
                                            ("last_seen", .string(Self.time(c.lastSeen))),
                                            ("n", .int(Int64(c.evaluations))),
                                            ("error_rate", c.evaluations > 0 ? .double(1 - Double(c.ok) / Double(c.evaluations)) : .null),
                                            (
                                                "pass_rates",
                                                .object(c.checks.sorted { $0.key < $1.key }.map { ($0.key, Self.rate(Int($0.value.sum), $0.value.n)) })
                                            ),
                                            (
                                                "started_by",
                                                entry.startedBy.map { start in
                                                    .object([
                                                        ("change", .string(start.change)), ("from", .string(start.from)), ("to", .string(start.to)),
                                                        ("at", .string(Self.time(Date(timeIntervalSince1970: start.at)))),
                                                        ("rolled_back", .bool(start.rolledBack)),
                                                    ])
                                                } ?? .null
                                            ),
                                        ])
                                    })
                            ),
                        ])
                    })
            ),
            (
                "judges",
                .array(
                    judges.map {
                        .object([
                            ("judge", .string($0.name)), ("identity", .string($0.identity)), ("judge_model", .optional($0.judgeModel)),
                            ("version", .optional($0.version)), ("first_seen", .string(Self.time($0.firstSeen))),
                            ("last_seen", .string(Self.time($0.lastSeen))),
                            ("n", .int(Int64($0.verdicts))), ("pass_rate", Self.rate($0.passes, $0.verdicts)),
                        ])
                    })
            ),
        ])
    }

    public var text: String {
        guard !entries.isEmpty || !judges.isEmpty else { return "No evaluations stored." }
        var lines: [String] = []
        var route: String?
        for entry in entries {
            let c = entry.combination
            if c.route != route {
                route = c.route
                lines.append("\(c.route.isEmpty ? "(no route)" : c.route):")
            }
            let provider = ProviderVersionWatch.version(responseModel: c.responseModel, systemFingerprint: c.systemFingerprint) ?? "-"
            var line =
                "  prompt \(c.promptVersion ?? "-")  model \(c.model)  provider \(provider)  \(Self.time(c.firstSeen)) .. \(Self.time(c.lastSeen))  n=\(c.evaluations)"
            let passes = c.checks.values.reduce(0) { $0 + Int($1.sum) }, verdicts = c.checks.values.reduce(0) { $0 + $1.n }
            if verdicts > 0 { line += "  checks \(AlertCatalog.rate(Double(passes) / Double(verdicts)))" }
            line += "  errors \(AlertCatalog.rate(c.evaluations > 0 ? 1 - Double(c.ok) / Double(c.evaluations) : nil))"
            if let start = entry.startedBy {
                line += "  started by \(start.change.replacingOccurrences(of: "_", with: " ")) \(start.from) -> \(start.to)"
                if start.rolledBack { line += " (rolled back)" }
            }
            lines.append(line)
        }
        if !judges.isEmpty {
            lines.append("judges:")
            for judge in judges {
                lines.append(
                    "  \(judge.identity)  answered by \(judge.judgeModel ?? "-")\(judge.version.map { " (version \($0))" } ?? "")  \(Self.time(judge.firstSeen)) .. \(Self.time(judge.lastSeen))  n=\(judge.verdicts)  pass \(AlertCatalog.rate(judge.verdicts > 0 ? Double(judge.passes) / Double(judge.verdicts) : nil))"
                )
            }
        }
        return lines.joined(separator: "\n")
    }
}
