import ArgumentParser
import EvaldCore
import EvaldDaemon
import Foundation

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon (or, with --once, process what the spool holds and exit).")

    @OptionGroup var options: ConfigOptions

    @Flag(name: .long, help: "Process what the spool holds now, wait for the judge queue to drain, then exit.")
    var once = false

    @Option(name: .long, help: "With --once: how long to wait for the judges (a duration such as 90s or 10m); what is left stays queued.")
    var judgeTimeout = "10m"

    func validate() throws {
        guard ConfigDuration.seconds(judgeTimeout).map({ $0 > 0 }) == true else {
            throw ValidationError("--judge-timeout must be a duration such as 90s or 10m")
        }
    }

    func run() async throws {
        let config = try options.load()
        let logger = Daemon.makeLogger(config)
        if once {
            let summary = try await Daemon.runOnce(config: config, logger: logger, judgeTimeout: ConfigDuration.seconds(judgeTimeout)!)
            let c = summary.spool.counts
            print("evald: read \(c.linesRead) lines (\(summary.spool.bytesRead) bytes) in \(String(format: "%.2f", summary.spoolSeconds)) s: \(c.records) records, \(c.sampled) sampled, \(c.malformed) quarantined")
            if let judges = summary.judges {
                var line = "judges: \(judges.judged) judged (\(judges.errors) judge errors) in \(String(format: "%.2f", summary.judgeSeconds)) s; "
                if judges.stillQueued == 0 {
                    line += "queue empty"
                } else if judges.timedOut {
                    line += "stopped waiting after --judge-timeout \(judgeTimeout) with \(judges.stillQueued) still queued; they stay queued for the next run"
                } else {
                    line += "\(judges.stillQueued) still queued" + (judges.blockedReason.map { ": \($0)" } ?? "")
                }
                print(line)
            } else if let note = summary.judgeNote {
                print(note)
            }
            if let d = summary.detection, d.evaluations + d.judgeScores > 0 {
                print("detection: \(d.evaluations) evaluations and \(d.judgeScores) judge scores fed to the detectors in \(String(format: "%.2f", summary.detectionSeconds)) s; \(d.fired) alerts fired (evald drift, evald alerts)")
            }
            if let n = summary.notifications {
                print("alerts: \(summary.firingAlerts) firing; notifications: \(n.sent) sent" + (n.gaveUp > 0 ? ", \(n.gaveUp) given up" : "")
                      + (n.stillPending > 0 ? ", \(n.stillPending) still pending (they are sent by the next run)" : ""))
            } else if summary.firingAlerts > 0 {
                print("alerts: \(summary.firingAlerts) firing; no receivers configured (evald alerts)")
            }
        } else {
            try await Daemon.run(config: config, logger: logger)
        }
    }
}
