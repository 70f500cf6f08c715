import ArgumentParser
import EvaldCore
import EvaldDaemon
import Foundation

struct GateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "Score a locked golden set with every check and judge and compare with its baseline; exit 1 when a metric drops beyond its tolerance.",
        discussion: """
            The baseline is golden.dir/NAME/baseline.json (or --baseline FILE), written by --write-baseline. \
            A metric regresses when current < baseline - tolerance. The default tolerance is the lower half-width \
            of the baseline's 95% Wilson interval (the gate fails when the value falls below the baseline's lower \
            95% bound); override it per metric with "tolerances": {"check:no-pii": 0} in the baseline file or \
            --tolerance check:no-pii=0. Judge errors are counted and shown, never scored as failures, but a judge \
            whose cases end mostly (more than half) as judge errors fails the gate; judges without an endpoint \
            are skipped with a warning. Exit codes: 0 no regression (or baseline written), 1 a metric regressed \
            or a judge failed, 2 bad input (unlocked or changed set, bad case line, no baseline), 3 runtime failure.
            """)

    @Argument(help: "The set's name: a folder under golden.dir.")
    var name: String

    @Option(help: ArgumentHelp("The baseline result file (default: golden.dir/NAME/baseline.json).", valueName: "file"))
    var baseline: String?

    @Flag(name: .customLong("write-baseline"), help: "Write this run's metrics as the baseline (keeping its tolerances) and exit 0.")
    var writeBaseline = false

    @Option(name: .customLong("judge-timeout"), help: "Stop waiting for judges after this long (unfinished calls count as judge errors).")
    var judgeTimeout = "10m"

    @Option(
        help: ArgumentHelp(
            "Send the cases' inputs to this endpoint (under endpoints) and score its fresh answers against the set's baseline, as the canary does; without it the stored outputs are scored.",
            valueName: "endpoint"))
    var replay: String?

    @Option(
        name: .customLong("tolerance"),
        help: ArgumentHelp(
            "METRIC=VALUE: this metric's tolerance (absolute), overriding the baseline file's and the default. Repeatable.", valueName: "metric=value"))
    var tolerances: [String] = []

    @OptionGroup var options: ConfigOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard GoldenSupport.parseTimeout(judgeTimeout) != nil else { throw ValidationError("--judge-timeout must be a duration such as 90s or 10m") }
        _ = try parsedTolerances()
    }

    func parsedTolerances() throws -> [String: Double] {
        var result: [String: Double] = [:]
        for item in tolerances {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let value = Double(parts[1]), value.isFinite, value >= 0 else {
                throw ValidationError("--tolerance \(item): expected METRIC=VALUE with VALUE >= 0, e.g. check:no-pii=0")
            }
            result[parts[0]] = value
        }
        return result
    }

    struct Output: Encodable {
        var set: String
        var cases: Int
        var baseline: String
        var passed: Bool
        var regressed: [String]
        /// Per regressed pass-rate metric: the cases that failed it, with why.
        var failures: [String: [GoldenRunResult.CaseFailure]]
        var brokenJudges: [String]
        var metrics: [GateRow]
        var warnings: [String]
        var judges: [GoldenJudgeSummary]
        var judgeErrors: Int
        /// Per judge that erred: its judge errors by kind (`{"faithfulness": {"no_json": 3}}`).
        var judgeErrorsByKind: [String: [String: Int]]
        var calibration: [JudgeCalibration]

        enum CodingKeys: String, CodingKey {
            case set, cases, baseline, passed, regressed, failures, metrics, warnings, judges, calibration
            case brokenJudges = "broken_judges"
            case judgeErrors = "judge_errors"
            case judgeErrorsByKind = "judge_errors_by_kind"
        }
    }

    func run() async throws {
        let config = try options.load()
        let timeout = GoldenSupport.parseTimeout(judgeTimeout)!
        let overrides = try parsedTolerances()
        let baselinePath =
            baseline.map { GoldenSetLoaderPath.absolute($0) }
            ?? (GoldenSetLoader.directory(name: name, config: config) as NSString).appendingPathComponent(GoldenBaseline.fileName)
        // The set and its baseline are checked before the run: no point paying for judge calls
        // whose results cannot be used.
        try GoldenSupport.verify(name: name, config: config)
        let existing = FileManager.default.contents(atPath: baselinePath)
        if existing == nil, !writeBaseline {
            throw CLIFailure(
                code: CLIFailure.usage,
                message:
                    "evald: no baseline for golden set \"\(name)\": \(baselinePath) does not exist; on a known-good set, run `evald gate \(name) --write-baseline` and commit the file"
            )
        }
        var previous: GoldenBaseline?
        if let existing {
            do {
                previous = try GoldenBaseline.parse([UInt8](existing), path: baselinePath)
            } catch {
                if !writeBaseline { throw CLIFailure(code: CLIFailure.usage, message: "evald: \(error)") }
            }
        }
        let (set, result) = try await GoldenSupport.run(name: name, config: config, judgeTimeout: timeout, replay: replay)

        if writeBaseline {
            // A baseline of a judge that mostly errs would hold the judge's failure as the norm.
            if !result.brokenJudges.isEmpty {
                for line in GoldenSupport.judgeLines(result) { CLIFailure.printError(line) }
                throw CLIFailure(
                    code: CLIFailure.failure,
                    message: "evald: baseline not written: " + result.brokenJudges.joined(separator: "; "))
            }
            let written = GoldenBaseline(
                set: name, cases: set.cases.count, metrics: result.metrics,
                tolerances: (previous?.tolerances ?? [:]).merging(overrides) { $1 }, writtenAt: Date())
            do {
                try written.serialized().write(toFile: baselinePath, atomically: true, encoding: .utf8)
            } catch {
                throw CLIFailure(code: CLIFailure.runtime, message: "evald: cannot write \(baselinePath): \(error.localizedDescription)")
            }
            for line in GoldenSupport.judgeLines(result) { CLIFailure.printError(line) }
            print("wrote baseline for golden set \"\(name)\" (\(set.cases.count) cases, \(result.metrics.count) metrics): \(baselinePath)")
            for metric in result.metrics {
                print("  \(GoldenSupport.pad(metric.name, 36)) n \(GoldenSupport.pad(String(metric.n), 4)) \(GoldenSupport.number(metric.value))")
            }
            return
        }

        let report = GoldenGate.compare(current: result.metrics, baseline: previous!, overrides: overrides)
        let calibrations = Calibration.calibrate(result: result, cases: set.cases, minKappa: config.calibration.minKappa)
            .filter { $0.n > 0 || $0.scoreN ?? 0 > 0 }
        if output.json {
            print(
                GoldenSupport.encode(
                    Output(
                        set: name, cases: set.cases.count, baseline: baselinePath, passed: report.passed && result.brokenJudges.isEmpty,
                        regressed: report.regressed.map(\.metric),
                        failures: Dictionary(report.regressed.map { ($0.metric, result.failures(metric: $0.metric)) }, uniquingKeysWith: { a, _ in a }),
                        brokenJudges: result.brokenJudges, metrics: report.rows, warnings: report.warnings,
                        judges: result.judges, judgeErrors: result.judgeErrors,
                        judgeErrorsByKind: Dictionary(
                            uniqueKeysWithValues: result.judges.filter { $0.errors > 0 }.map { judge in
                                (judge.name, Dictionary(result.errorKinds(judge: judge.name).map { ($0.kind, $0.count) }, uniquingKeysWith: +))
                            }),
                        calibration: calibrations)))
        } else {
            print(text(report, set: set, result: result, baselinePath: baselinePath, calibrations: calibrations))
        }
        if !report.passed || !result.brokenJudges.isEmpty { throw ExitCode(1) }
    }

    func text(_ report: GateReport, set: GoldenSet, result: GoldenRunResult, baselinePath: String, calibrations: [JudgeCalibration]) -> String {
        typealias S = GoldenSupport
        var lines = ["golden set \"\(name)\": \(set.cases.count) cases, baseline \(baselinePath)"]
        lines += S.judgeLines(result)
        let width = max(36, (report.rows.map(\.metric.count).max() ?? 0) + 2)
        lines.append(
            S.pad("metric", width) + S.pad("n", 6, right: true) + S.pad("baseline", 10, right: true) + S.pad("current", 10, right: true)
                + S.pad("delta", 9, right: true) + S.pad("tolerance", 11, right: true) + "  verdict")
        for row in report.rows {
            let verdict = row.verdict == .regressed ? "REGRESSED" : row.verdict.rawValue
            lines.append(
                S.pad(row.metric, width) + S.pad(row.n.map(String.init) ?? "-", 6, right: true)
                    + S.pad(S.number(row.baseline), 10, right: true) + S.pad(S.number(row.current), 10, right: true)
                    + S.pad(S.signed(row.delta), 9, right: true) + S.pad(S.number(row.tolerance), 11, right: true)
                    + "  " + verdict + (row.toleranceSource == "override" ? " (tolerance set)" : ""))
        }
        lines += report.warnings
        if !calibrations.isEmpty {
            lines.append("calibration against the human labels (calibration.min_kappa \(S.number(calibrations.first?.minKappa, digits: 2))):")
            lines += S.calibrationLines(calibrations)
        }
        let regressed = report.regressed
        let broken = result.brokenJudges
        if regressed.isEmpty, broken.isEmpty {
            lines.append("gate passed: no metric dropped beyond its tolerance (\(report.rows.count) metrics)")
        }
        if !regressed.isEmpty {
            lines.append(
                "gate FAILED: \(regressed.count) metric\(regressed.count == 1 ? "" : "s") dropped beyond tolerance: "
                    + regressed.map { "\($0.metric) \(S.number($0.baseline)) -> \(S.number($0.current))" }.joined(separator: ", "))
            // The cases behind each drop, so the reader can open them (`cases.jsonl` ids).
            for row in regressed {
                for failure in result.failures(metric: row.metric) {
                    lines.append("  \(row.metric) failed on \(failure.id): \(failure.detail)")
                }
            }
        }
        for reason in broken { lines.append("gate FAILED: \(reason)") }
        return lines.joined(separator: "\n")
    }
}

enum GoldenSetLoaderPath {
    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
    }
}
