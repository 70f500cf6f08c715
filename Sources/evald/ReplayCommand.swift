import ArgumentParser
import EvaldCore
import EvaldDaemon
import EvaldHTTP
import EvaldReports
import EvaldStore
import Foundation
import Logging

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay stored production inputs of a route against a candidate system prompt or model, scored and compared paired.",
        discussion: """
            Takes --sample stored answers of the route (newest first, spread over --since, all of the newest prompt version), \
            sends each conversation to --endpoint with the candidate's system message and model, scores the new answers with \
            the route's checks and judges next to the production answers, and compares them per metric on the same inputs \
            (McNemar for pass rates, the paired t test for 1-5 scores). Inputs are PII-redacted as judge prompts are when \
            judge.redact_pii is on. Every step is stored under the replay's id: --resume r-N continues an interrupted or \
            budget-stopped replay (no input is sent twice), `evald explain r-N` shows it again, and `evald golden add` copies \
            its inputs into a golden set.
            Exit codes: 0 nothing worse, 1 a metric worse by detection.min_drop or more, 2 bad input, 3 the endpoint failed.
            """)

    @OptionGroup var options: ConfigOptions
    @OptionGroup var output: OutputOptions

    @Option(name: .long, help: ArgumentHelp("The route whose stored inputs are replayed.", valueName: "route"))
    var route: String?

    @Option(name: .long, help: ArgumentHelp("The endpoint (a key of endpoints) that answers as the candidate.", valueName: "name"))
    var endpoint: String?

    @Option(name: .customLong("system-prompt"), help: ArgumentHelp("A file holding the candidate's system message (replaces production's).", valueName: "file"))
    var systemPrompt: String?

    @Option(name: .long, help: ArgumentHelp("The candidate model (else the endpoint's).", valueName: "model"))
    var model: String?

    @Option(name: .long, help: ArgumentHelp("How many stored inputs to replay.", valueName: "n"))
    var sample = 200

    @Option(name: .long, help: ArgumentHelp("How far back to take inputs from: a duration (7d) or an RFC 3339 time.", valueName: "time"))
    var since = "7d"

    @Option(name: .long, help: ArgumentHelp("Requests in flight at once (else the endpoint's concurrency).", valueName: "n"))
    var concurrency: Int?

    @Option(name: .customLong("budget-tokens"), help: ArgumentHelp("Stop once the candidate's calls have used this many tokens.", valueName: "k"))
    var budgetTokens: Int?

    @Option(name: .long, help: ArgumentHelp("Continue replay r-N where it stopped.", valueName: "id"))
    var resume: String?

    func run() async throws {
        let config = try options.load()
        let store = try StateStore.open(path: config.databasePath, secureDelete: config.storage.redact)
        let logger = Logger(label: "evald.replay") { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let transport = HTTPTransport()
        let runner = ReplayRunner(config: config, store: store, transport: transport, logger: logger)
        let replay: StoredReplay
        do {
            let id: Int64
            if let resume {
                guard let number = StoredReplay.number(resume) else {
                    throw CLIFailure(code: CLIFailure.usage, message: "evald: --resume takes a replay id such as r-3, not \"\(resume)\"")
                }
                id = number
            } else {
                guard let route, let endpoint else {
                    throw CLIFailure(code: CLIFailure.usage, message: "evald: replay needs --route and --endpoint (or --resume r-N)")
                }
                id = try runner.create(
                    ReplayRequest(
                        route: route, endpoint: endpoint, systemPrompt: try systemPrompt.map(Self.read), systemPromptFile: systemPrompt,
                        model: model, sample: sample, since: try Self.since(since)))
            }
            replay = try await runner.run(replayID: id, concurrency: concurrency, budgetTokens: budgetTokens)
            try? await transport.shutdown()
        } catch {
            // The HTTP client is shut down on every path, the failing ones included.
            try? await transport.shutdown()
            if let error = error as? ReplayError {
                throw CLIFailure(code: error.kind == .badInput ? CLIFailure.usage : CLIFailure.runtime, message: "evald: \(error.description)")
            }
            throw error
        }
        let report = ReplayReport.gather(replay: replay, store: store, minDrop: config.detection.minDrop)
        print(output.json ? report.json.serialized(pretty: true) : report.text)
        if !report.worse.isEmpty { throw ExitCode(1) }
    }

    static func read(_ path: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CLIFailure(code: CLIFailure.usage, message: "evald: --system-prompt \(path): cannot read the file (\(error.localizedDescription))")
        }
    }

    static func since(_ text: String, now: Date = Date()) throws -> Date {
        if let seconds = ConfigDuration.seconds(text) { return now - seconds }
        if let date = RFC3339.parse(text) { return date }
        throw CLIFailure(code: CLIFailure.usage, message: "evald: --since \(text): give a duration such as 7d or 12h, or an RFC 3339 time")
    }
}
