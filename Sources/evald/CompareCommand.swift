import ArgumentParser
import EvaldCore
import EvaldDaemon
import EvaldReports
import EvaldStore
import Foundation

struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "The variants of a route (prompt versions or models) side by side, with anytime-valid 95% intervals of their differences.",
        discussion: """
            Each variant is compared with the incumbent (the one with the most evaluations since --since), per metric: \
            every check's pass rate, the error rate, each judge's pass rate and mean score. Verdicts: worse (the interval \
            lies below zero and the difference is at least detection.min_drop down; 2 x min_drop points for a mean score), \
            better, equivalent (the interval lies within +-min_drop), undecided.
            Exit codes: 0 no variant is worse, 1 a variant is worse, 2 bad usage or configuration, 3 runtime failure.
            """)

    @OptionGroup var options: ConfigOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "The route to compare on.")
    var route: String

    @Option(help: "What tells the variants apart: prompt_version or model.")
    var by = "prompt_version"

    @Option(help: "Only evaluations since then: a duration back from now (7d, 12h) or an RFC 3339 time.")
    var since = "7d"

    func validate() throws {
        guard ChangeWatch.Dimension(rawValue: by) != nil else { throw ValidationError("--by must be prompt_version or model") }
        guard ConfigDuration.seconds(since) != nil || RFC3339.parse(since) != nil else {
            throw ValidationError("--since must be a duration such as 7d or 12h, or an RFC 3339 time")
        }
    }

    func run() async throws {
        let config = try options.load()
        let report = try CompareReport.gather(
            store: try StateStore.openExisting(path: config.databasePath), route: route, by: ChangeWatch.Dimension(rawValue: by)!,
            since: try ReplayCommand.since(since), minDrop: config.detection.minDrop)
        print(output.json ? report.json.serialized(pretty: true) : report.text)
        if !report.worse.isEmpty { throw ExitCode(1) }
    }
}
