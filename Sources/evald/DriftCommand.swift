import ArgumentParser
import EvaldDaemon
import EvaldReports
import EvaldStore

struct DriftCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drift",
        abstract: "Provider version changes seen per route and model, and their drift-watch state.",
        discussion: "Exit codes: 0 no drift, 1 a version answering now is worse than the one before it.")

    @OptionGroup var options: ConfigOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let config = try options.load()
        let report = try DriftReport.gather(store: try StateStore.openExisting(path: config.databasePath))
        print(output.json ? report.json.serialized(pretty: true) : report.text)
        if !report.drifting.isEmpty { throw ExitCode(1) }
    }
}
