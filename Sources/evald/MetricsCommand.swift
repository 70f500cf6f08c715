import ArgumentParser
import EvaldCore
import EvaldDaemon
import EvaldReports
import EvaldStore
import Foundation

struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "One row per series (metric, route, model): n, pass rate with its 95% Wilson interval, mean score, latency p50/p95, cost per call.")

    @OptionGroup var options: ConfigOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "The window: 1h, 24h, 7d (any duration).")
    var window = "24h"

    @Option(help: "Only this route.")
    var route: String?

    @Option(help: "Only this model.")
    var model: String?

    @Option(help: "End of the window (RFC 3339, default now): look at a past window, e.g. a replayed spool.")
    var until: String?

    func validate() throws {
        guard ConfigDuration.seconds(window).map({ $0 > 0 }) == true else { throw ValidationError("--window must be a duration such as 1h, 24h or 7d") }
        if let until, RFC3339.parse(until) == nil { throw ValidationError("--until must be an RFC 3339 time such as 2026-11-29T00:00:00Z") }
    }

    func run() async throws {
        let config = try options.load()
        let store = try StateStore.openExisting(path: config.databasePath)
        let report = try MetricsReport.gather(
            store: store, window: window, seconds: ConfigDuration.seconds(window)!,
            until: until.flatMap(RFC3339.parse) ?? Date(), route: route, model: model,
            passFailJudges: Set(
                JudgeCatalog.load(directory: config.judge.dir, endpoints: config.endpoints, defaultEndpoint: config.judge.defaultEndpoint)
                    .catalog.rubrics.filter { $0.scale == .passFail }.map(\.name)))
        print(output.json ? report.json.serialized(pretty: true) : report.text)
    }
}
