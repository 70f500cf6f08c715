import ArgumentParser
import EvaldCore
import EvaldStore
import Foundation

struct TracesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traces",
        abstract:
            "Search the stored traces: the sample, plus every call that failed, by route, tenant, model, prompt version, error class, failed check or request id.",
        discussion: """
            Stored traces are the sampled ones (evaluations, e-N: `evald explain e-N` shows their checks and verdicts) and \
            every call with status error, sampled or not (f-N). Newest first. --request-id matches the record's \
            metadata.request_id. --failed-check searches the sample only (checks run on the sample).
            Exit codes: 0 ok (also when nothing matches), 2 bad usage or configuration, 3 runtime failure.
            """)

    @OptionGroup var options: ConfigOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Only this route.") var route: String?
    @Option(help: "Only this tenant.") var tenant: String?
    @Option(help: "Only this model.") var model: String?
    @Option(name: .customLong("prompt-version"), help: "Only this prompt version.") var promptVersion: String?
    @Option(name: .customLong("error-class"), help: "Only failed calls of this class (error.type, or the error's first word).") var errorClass: String?
    @Option(name: .customLong("failed-check"), help: "Only sampled traces that failed this check.") var failedCheck: String?
    @Option(name: .customLong("request-id"), help: "Only the trace with this metadata.request_id.") var requestID: String?

    @Option(help: "Only traces since then: a duration back from now (7d, 12h) or an RFC 3339 time.")
    var since = "7d"

    @Option(help: "At most this many traces.")
    var limit = 50

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
        guard ConfigDuration.seconds(since) != nil || RFC3339.parse(since) != nil else {
            throw ValidationError("--since must be a duration such as 7d or 12h, or an RFC 3339 time")
        }
    }

    func run() async throws {
        let config = try options.load()
        var query = TraceQuery(since: try ReplayCommand.since(since), limit: limit)
        query.route = route
        query.tenant = tenant
        query.model = model
        query.promptVersion = promptVersion
        query.errorClass = errorClass
        query.failedCheck = failedCheck
        query.requestID = requestID
        let traces = try StateStore.openExisting(path: config.databasePath)?.traces(query) ?? []
        if output.json {
            print(JSONValue.object([("traces", .array(traces.map(Self.json)))]).serialized(pretty: true))
            return
        }
        guard !traces.isEmpty else {
            print("no stored trace matches since \(RFC3339.format(query.since, fractional: false)) (stored: the sample and every failed call)")
            return
        }
        var table = [["ID", "TIME", "ROUTE", "MODEL", "TENANT", "PROMPT", "STATUS", "FAILED CHECKS", "TRACE"]]
        for t in traces {
            table.append([
                t.id, RFC3339.format(t.timestamp, fractional: false), t.route ?? "-", t.model, t.tenant ?? "-", t.promptVersion ?? "-",
                t.errorClass.map { "error: \($0)" } ?? t.status, t.failedChecks.isEmpty ? "-" : t.failedChecks.joined(separator: ","), t.recordID,
            ])
        }
        let widths = table[0].indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        for row in table {
            print(
                String(
                    row.enumerated().map { $1 + String(repeating: " ", count: widths[$0] - $1.count) }.joined(separator: "  ").reversed().drop { $0 == " " }
                        .reversed()))
        }
    }

    static func json(_ t: FoundTrace) -> JSONValue {
        .object([
            ("id", .string(t.id)), ("source", .string(t.source.rawValue)), ("trace_id", .string(t.traceID)), ("record_id", .string(t.recordID)),
            ("timestamp", .string(RFC3339.format(t.timestamp))), ("route", .optional(t.route)), ("model", .string(t.model)),
            ("tenant", .optional(t.tenant)), ("prompt_version", .optional(t.promptVersion)), ("status", .string(t.status)),
            ("error_class", .optional(t.errorClass)), ("error", .optional(t.error)), ("latency_ms", .optional(t.latencyMs)),
            ("failed_checks", .array(t.failedChecks.map(JSONValue.string))), ("request_id", .optional(t.requestID)),
        ])
    }
}
