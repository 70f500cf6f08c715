import ArgumentParser
import EvaldDaemon
import EvaldReports

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Health: heartbeat, spool lag, lines read, traces sampled, judge queue, firing alerts.")

    @OptionGroup var options: ConfigOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let config = try options.load()
        let report = try StatusReport.gather(config: config)
        print(output.json ? report.json.serialized(pretty: true) : report.text)
    }
}
