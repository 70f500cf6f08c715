import ArgumentParser
import EvaldCore
import EvaldDaemon
import Foundation

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon (or, with --once, process what the spool holds and exit).")

    @OptionGroup var options: ConfigOptions

    @Flag(name: .long, help: "Process what the spool holds now, then exit.")
    var once = false

    func run() async throws {
        let config = try options.load()
        let logger = Daemon.makeLogger(config)
        if once {
            let started = Date()
            let summary = try Daemon.runOnce(config: config, logger: logger)
            let seconds = Date().timeIntervalSince(started)
            let c = summary.counts
            print("evald: read \(c.linesRead) lines (\(summary.bytesRead) bytes) in \(String(format: "%.2f", seconds)) s: \(c.records) records, \(c.sampled) sampled, \(c.malformed) quarantined")
        } else {
            try await Daemon.run(config: config, logger: logger)
        }
    }
}
