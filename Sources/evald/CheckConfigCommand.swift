import ArgumentParser
import EvaldCore
import EvaldDaemon
import Foundation

struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the config (and the files it names); print every problem with its file and key.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try options.load(printWarnings: false)
        let (_, warnings) = try EvaldConfig.load(path: config.sourcePath, environment: ProcessInfo.processInfo.environment)
        var problems = warnings
        let file = config.sourcePath
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: config.spool.dir, isDirectory: &isDirectory) || !isDirectory.boolValue {
            problems.append(ConfigProblem(file: file, line: nil, key: "spool.dir", message: "\(config.spool.dir) does not exist (yet); evald waits for it to appear", severity: .warning))
        } else if !FileManager.default.isReadableFile(atPath: config.spool.dir) {
            problems.append(ConfigProblem(file: file, line: nil, key: "spool.dir", message: "\(config.spool.dir) is not readable by this user"))
        }
        do {
            _ = try Daemon.makeCheckPlan(config)
        } catch {
            problems += error.problems
        }
        for problem in problems { CLIFailure.printError(problem.description) }
        let errors = problems.filter { $0.severity == .error }.count
        guard errors == 0 else {
            throw CLIFailure(code: CLIFailure.usage, message: "\(file): \(errors) error\(errors == 1 ? "" : "s")")
        }
        let checkCount = config.checks.reduce(0) { $0 + $1.checks.count }
        print("\(file): ok (spool \(config.spool.dir), state \(config.databasePath), sampling rate \(config.sampling.rate), \(checkCount) checks on \(config.checks.count) route patterns, \(config.endpoints.count) endpoints, \(config.alerts.receivers.count) receivers)")
    }
}
