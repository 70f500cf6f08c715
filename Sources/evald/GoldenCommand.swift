import ArgumentParser

struct GoldenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "golden",
        abstract: "Golden sets (golden.dir/NAME): lock their files so they change only on purpose.",
        subcommands: [GoldenLockCommand.self, GoldenAddCommand.self])
}
