import ArgumentParser
import EvaldCore
import EvaldDaemon
import EvaldReports
import EvaldStore
import Foundation

struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract:
            "The failing traces behind an alert (a-17), a replay's comparison (r-3), or the checks and judge verdicts of one evaluation (e-42, or a trace or record id).",
        discussion: "Exit codes: 0 found, 1 found and something failed (an alert that is firing, a replay with a worse metric), 2 unknown id.")

    @OptionGroup var options: ConfigOptions
    @OptionGroup var output: OutputOptions

    @Argument(help: "An alert id (a-17), a replay id (r-3), an evaluation id (42 or e-42), or a trace id or record id.")
    var id: String

    func run() async throws {
        let config = try options.load()
        guard let store = try StateStore.openExisting(path: config.databasePath) else {
            throw CLIFailure(
                code: CLIFailure.usage, message: "evald: no evaluations yet: \(config.databasePath) does not exist (has evald run with this config?)")
        }
        // The rubrics as loaded now, for each verdict's scale; problems are check-config's to report.
        let rubrics =
            JudgeCatalog.load(directory: config.judge.dir, endpoints: config.endpoints, defaultEndpoint: config.judge.defaultEndpoint, send: config.judge.send)
            .catalog.rubrics
        if id.hasPrefix("r-"), let replayID = Int64(id.dropFirst(2)) {
            guard let replay = try store.replay(id: replayID) else {
                throw CLIFailure(code: CLIFailure.usage, message: "evald: no replay \(id) in \(config.databasePath)")
            }
            let report = ReplayReport.gather(replay: replay, store: store, minDrop: config.detection.minDrop)
            print(output.json ? report.json.serialized(pretty: true) : report.text)
            if !report.worse.isEmpty { throw ExitCode(1) }
            return
        }
        if id.hasPrefix("a-"), let alertID = Int64(id.dropFirst(2)) {
            guard let alert = try store.alert(id: alertID) else {
                throw CLIFailure(code: CLIFailure.usage, message: "evald: no alert \(id): evald alerts --all lists them")
            }
            let report = try AlertReport.gather(store: store, all: true).entries.first { $0.alert.id == alert.id }
            let examples = try (report?.examples ?? []).compactMap { try EvaluationExplanation.gather(store: store, evaluationID: $0, rubrics: rubrics) }
            // Where a regression's failures concentrate (tenant, prompt version, tool, ...).
            let segments = try SegmentReport.gather(store: store, alert: alert, numbers: report?.transitions.first?.numbers ?? [:], now: Date())
            // A change alert (prompt deploy, model swap, variant) shows the route's lineage around it.
            let changeAlerts: Set<String> = ["PromptVersionChanged", "ModelChanged", "PromptRegression", "ModelRegression", "VariantWorse"]
            let lineage: VersionsReport? =
                if changeAlerts.contains(alert.name), let route = alert.labels["route"] {
                    VersionsReport(entries: try VersionsReport.gather(store: store, route: route).entries, judges: [])
                } else {
                    nil
                }
            if output.json {
                var fields: [(String, JSONValue)] = []
                if let report, case .object(let pairs) = AlertReport.json(report) { fields = pairs }
                fields.append(
                    (
                        "transitions",
                        .array(
                            (report?.transitions ?? []).map { t in
                                .object([
                                    ("state", .string(t.state)), ("at", .string(RFC3339.format(t.at, fractional: false))),
                                    ("numbers", .object(t.numbers.sorted { $0.key < $1.key }.map { ($0.key, .double($0.value)) })),
                                ])
                            })
                    ))
                fields.append(("evaluations", .array(examples.map(\.json))))
                fields.append(("segments", segments?.json ?? .null))
                if let lineage, case .object(let pairs) = lineage.json, let routes = pairs.first(where: { $0.0 == "routes" })?.1,
                    case .array(let list) = routes, case .object(let route)? = list.first,
                    let combinations = route.first(where: { $0.0 == "combinations" })?.1
                {
                    fields.append(("lineage", combinations))
                }
                print(JSONValue.object(fields).serialized(pretty: true))
            } else {
                print(AlertReport(entries: report.map { [$0] } ?? []).text)
                for t in report?.transitions ?? [] {
                    print(
                        "    \(t.state) at \(RFC3339.format(t.at, fractional: false)): "
                            + t.numbers.sorted { $0.key < $1.key }.map { "\($0.key)=\(NumberText.compact($0.value))" }.joined(separator: " "))
                }
                if let segments { print("\n" + segments.text) }
                if let lineage, !lineage.entries.isEmpty {
                    print("\nlineage of the route (evald versions):")
                    print(lineage.text)
                }
                if examples.isEmpty { print("\nno example evaluations are attached to this alert") }
                for example in examples { print("\n" + example.text) }
            }
            if alert.state == "firing" { throw ExitCode(1) }
            return
        }
        var candidates: [Int64] = []
        let numeric = id.hasPrefix("e-") ? String(id.dropFirst(2)) : id
        if let n = Int64(numeric) { candidates.append(n) }
        candidates += try store.evaluationIDs(traceOrRecordID: id)
        for candidate in candidates {
            if let explanation = try EvaluationExplanation.gather(store: store, evaluationID: candidate, rubrics: rubrics) {
                print(output.json ? explanation.json.serialized(pretty: true) : explanation.text)
                if explanation.failed { throw ExitCode(1) }
                return
            }
        }
        throw CLIFailure(
            code: CLIFailure.usage,
            message:
                "evald: no evaluation \(id): give an evaluation id (e-42), or the trace id or record id of a sampled trace (evald sample-check TRACE_ID tells whether it was sampled)"
        )
    }
}
