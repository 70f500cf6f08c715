import ArgumentParser
import EvaldCore

struct Evald: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evald",
        abstract: "Continuous evaluation of production LLM traces: samples, scores, watches, alerts.",
        discussion: """
            Every command reads its configuration from --config FILE, else $EVALD_CONFIG, \
            else ./evald.yaml when it exists, else /etc/evald/evald.yaml.
            Exit codes: 0 ok, 1 a check or query found a failure, 2 bad usage or configuration, 3 runtime failure.
            """,
        version: EvaldVersionText.text,
        subcommands: [
            RunCommand.self, StatusCommand.self, MetricsCommand.self, SpoolCommand.self, SampleCheckCommand.self, CheckConfigCommand.self, ExplainCommand.self,
            AlertsCommand.self,
            DriftCommand.self, CompareCommand.self, VersionsCommand.self, GateCommand.self, GoldenCommand.self, CalibrateCommand.self, ReplayCommand.self,
            ReportCommand.self, TracesCommand.self,
        ]
    )
}

enum EvaldVersionText {
    static let text = EvaldVersion.current
}

extension Evald {
    static func runMain() async -> Int32 {
        do {
            var command = try await asyncParseAsRoot(nil)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return 0
        } catch {
            return CLIFailure.report(error)
        }
    }
}
