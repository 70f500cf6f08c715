import ArgumentParser
import EvaldCore
import EvaldReports
import EvaldStore
import Foundation

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Usage from every call (calls, errors, tokens, cost, latency) per route, model and tenant, with the sample's quality and the alerts.",
        discussion: """
            Counts every record of the spool, sampled or not, by trace time: totals and their change against the previous \
            period of the same length; per route and model the calls, error rate by class, tokens in and out, tokens per call, \
            cost and latency p50/p95/p99; the top tenants by spend and by tokens per call (tenants not named in a budget come \
            from a heavy-hitter sketch whose error bound is printed); pass rates with 95% intervals from the sample; the alerts \
            fired or resolved in the period. Calls without cost_usd are priced by `pricing:`, else counted as unknown cost. \
            The markdown form is meant to be pasted into a weekly review.
            Exit codes: 0 ok, 2 bad usage or configuration, 3 runtime failure.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "Start of the period: a duration back from --until (7d, 24h) or an RFC 3339 time.")
    var since = "7d"

    @Option(help: "End of the period: an RFC 3339 time (default: now).")
    var until: String?

    @Option(help: "text, markdown or json.")
    var format = "text"

    @Flag(help: "The same as --format json.")
    var json = false

    @Option(help: "How many tenants each top list shows.")
    var top = 10

    func validate() throws {
        guard UsageReport.Format(rawValue: format) != nil else { throw ValidationError("--format must be text, markdown or json") }
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
        if let until, RFC3339.parse(until) == nil { throw ValidationError("--until must be an RFC 3339 time such as 2026-12-01T00:00:00Z") }
        guard ConfigDuration.seconds(since) != nil || RFC3339.parse(since) != nil else {
            throw ValidationError("--since must be a duration such as 7d or 24h, or an RFC 3339 time")
        }
    }

    func run() async throws {
        let config = try options.load()
        let end = until.flatMap(RFC3339.parse) ?? Date()
        let start = try ReplayCommand.since(since, now: end)
        guard start < end else { throw CLIFailure(code: CLIFailure.usage, message: "evald: --since must come before --until") }
        let report = try UsageReport.gather(
            store: try StateStore.openExisting(path: config.databasePath), since: start, until: end, top: top, timeZone: config.usage.timeZone)
        print(report.rendered(json ? .json : UsageReport.Format(rawValue: format)!), terminator: "")
    }
}
