import ArgumentParser
import EvaldCore
import EvaldDaemon
import EvaldReports
import Foundation

struct CalibrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Compare each judge's verdicts on a locked golden set with its human labels: accuracy, Cohen's kappa, confusion matrix, MAE, Spearman.",
        discussion:
            "Exit 1 when a judge's kappa is below calibration.min_kappa; 0 otherwise, also when no judge can run (nothing to calibrate); 2 on bad input (unlocked or changed set, no labels)."
    )

    @Argument(help: "The set's name: a folder under golden.dir.")
    var name: String

    @Option(name: .customLong("judge-timeout"), help: "Stop waiting for judges after this long (unfinished calls count as judge errors).")
    var judgeTimeout = "10m"

    @OptionGroup var options: ConfigOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard GoldenSupport.parseTimeout(judgeTimeout) != nil else { throw ValidationError("--judge-timeout must be a duration such as 90s or 10m") }
    }

    struct Output: Encodable {
        var set: String
        var cases: Int
        var labelled: Int
        var minKappa: Double
        var flagged: [String]
        var judges: [JudgeCalibration]
        var skipped: [Skipped]
        var judgeErrors: Int

        struct Skipped: Encodable {
            var judge: String
            var reason: String
        }

        enum CodingKeys: String, CodingKey {
            case set, cases, labelled, flagged, judges, skipped
            case minKappa = "min_kappa", judgeErrors = "judge_errors"
        }
    }

    func run() async throws {
        let config = try options.load()
        let (set, result) = try await GoldenSupport.run(name: name, config: config, judgeTimeout: GoldenSupport.parseTimeout(judgeTimeout)!)
        let labelled = set.cases.filter { $0.label != nil }.count
        guard labelled > 0 else {
            throw CLIFailure(
                code: CLIFailure.usage,
                message:
                    "evald: golden set \"\(name)\" has no labelled case: add \"label\": {\"pass\": true, \"score\": 4} to the records of \(set.casesPath), then run `evald golden lock \(name)`"
            )
        }
        let minKappa = config.calibration.minKappa
        let calibrations = Calibration.calibrate(result: result, cases: set.cases, minKappa: minKappa)
        let skipped = result.judges.filter { $0.skipped != nil && $0.cases > 0 }
        let flagged = calibrations.filter(\.flagged).map(\.judge)
        if output.json {
            print(
                GoldenSupport.encode(
                    Output(
                        set: name, cases: set.cases.count, labelled: labelled, minKappa: minKappa, flagged: flagged,
                        judges: calibrations, skipped: skipped.map { .init(judge: $0.name, reason: $0.skipped ?? "") },
                        judgeErrors: result.judgeErrors)))
        } else {
            var lines = [
                "golden set \"\(name)\": \(set.cases.count) cases, \(labelled) labelled; calibration.min_kappa \(GoldenSupport.number(minKappa, digits: 2))"
            ]
            lines += GoldenSupport.judgeLines(result)
            if calibrations.isEmpty {
                lines.append("nothing to calibrate: no judge of the set's routes could run. " + JudgeCatalog.enableHint)
            }
            lines += GoldenSupport.calibrationLines(calibrations)
            if !flagged.isEmpty {
                lines.append("\(flagged.count) judge\(flagged.count == 1 ? "" : "s") below min_kappa: \(flagged.joined(separator: ", "))")
            }
            print(lines.joined(separator: "\n"))
        }
        if !flagged.isEmpty { throw ExitCode(1) }
    }
}
