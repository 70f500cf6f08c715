import ArgumentParser
import EvaldDaemon
import EvaldReports
import EvaldStore

struct VersionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "versions",
        abstract: "Lineage: every prompt version x model x provider version seen per route, and the change that started it; and the judge versions.")

    @OptionGroup var options: ConfigOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Only this route.")
    var route: String?

    func run() async throws {
        let config = try options.load()
        let report = try VersionsReport.gather(store: try StateStore.openExisting(path: config.databasePath), route: route)
        print(output.json ? report.json.serialized(pretty: true) : report.text)
    }
}
