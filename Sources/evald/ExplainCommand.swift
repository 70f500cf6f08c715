import ArgumentParser
import EvaldCore
import EvaldDaemon
import EvaldStore
import Foundation

struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "The checks and judge verdicts behind an evaluation (by its id, or a trace or record id).",
        discussion: "Exit codes: 0 found, 1 found and something failed, 2 unknown id.")

    @OptionGroup var options: ConfigOptions
    @OptionGroup var output: OutputOptions

    @Argument(help: "An evaluation id (42 or e-42), or a trace id or record id.")
    var id: String

    func run() async throws {
        let config = try options.load()
        guard let store = try StateStore.openExisting(path: config.databasePath) else {
            throw CLIFailure(code: CLIFailure.usage, message: "evald: no evaluations yet: \(config.databasePath) does not exist (has evald run with this config?)")
        }
        var candidates: [Int64] = []
        let numeric = id.hasPrefix("e-") ? String(id.dropFirst(2)) : id
        if let n = Int64(numeric) { candidates.append(n) }
        candidates += try store.evaluationIDs(traceOrRecordID: id)
        for candidate in candidates {
            if let explanation = try EvaluationExplanation.gather(store: store, evaluationID: candidate) {
                print(output.json ? explanation.json.serialized(pretty: true) : explanation.text)
                if explanation.failed { throw ExitCode(1) }
                return
            }
        }
        throw CLIFailure(code: CLIFailure.usage, message: "evald: no evaluation \(id): give an evaluation id (e-42), or the trace id or record id of a sampled trace (evald sample-check TRACE_ID tells whether it was sampled)")
    }
}
