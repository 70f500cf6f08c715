import ArgumentParser
import EvaldCore
import EvaldDaemon
import EvaldReports
import EvaldStore
import Foundation

struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Firing alerts (or all, with --all) with their labels, numbers and notifications.",
        discussion: "Exit codes: 0 none firing, 1 an alert is firing.")

    @OptionGroup var options: ConfigOptions
    @OptionGroup var output: OutputOptions

    @Flag(help: "Resolved alerts too, newest first.")
    var all = false

    func run() async throws {
        let config = try options.load()
        let store = try StateStore.openExisting(path: config.databasePath)
        let report = try AlertReport.gather(store: store, all: all)
        print(output.json ? report.json.serialized(pretty: true) : report.text)
        if report.entries.contains(where: { $0.alert.state == "firing" }) { throw ExitCode(1) }
    }
}
