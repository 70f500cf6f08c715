import ArgumentParser
import EvaldCore
import EvaldDaemon
import Foundation

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon (or, with --once, process what the spool holds and exit).")

    @OptionGroup var options: ConfigOptions

    @Flag(name: .long, help: "Process what the spool holds now, wait for the judge queue to drain, feed the detectors, deliver notifications, then exit.")
    var once = false

    @Flag(name: .long, help: "With --once: print the summary as JSON.")
    var json = false

    @Option(name: .long, help: "With --once: how long to wait for the judges (a duration such as 90s or 10m); what is left stays queued.")
    var judgeTimeout = "10m"

    @Option(name: .long, help: "With --once: how long detection may take to catch up (a duration); what is left is fed by the next run.")
    var detectionTimeout = "10m"

    @Option(name: .long, help: "With --once: how long to wait for alert notifications to be delivered (a duration); what is left stays in the outbox.")
    var notifyTimeout = "60s"

    func validate() throws {
        for (name, value) in [("--judge-timeout", judgeTimeout), ("--detection-timeout", detectionTimeout), ("--notify-timeout", notifyTimeout)] {
            guard ConfigDuration.seconds(value).map({ $0 > 0 }) == true else {
                throw ValidationError("\(name) must be a duration such as 90s or 10m")
            }
        }
        if json && !once { throw ValidationError("--json goes with --once (the daemon logs to stderr)") }
    }

    func run() async throws {
        let config = try options.load()
        let logger = Daemon.makeLogger(config)
        guard once else {
            try await Daemon.run(config: config, logger: logger)
            return
        }
        let timeouts = Daemon.OnceTimeouts(
            judges: ConfigDuration.seconds(judgeTimeout)!, detection: ConfigDuration.seconds(detectionTimeout)!,
            notifications: ConfigDuration.seconds(notifyTimeout)!)
        let summary = try await Daemon.runOnce(config: config, logger: logger, timeouts: timeouts)
        if json {
            print(OnceReport(summary: summary).json.serialized(pretty: true))
        } else {
            print(OnceReport(summary: summary).text(judgeTimeout: judgeTimeout, detectionTimeout: detectionTimeout))
        }
    }
}
