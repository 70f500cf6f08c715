import EvaldCore
import EvaldDaemon
import EvaldHTTP
import EvaldReports
import Foundation

/// What `gate` and `calibrate` share: load the set, refuse it unless its lock matches, score it.
enum GoldenSupport {
    static func failure(_ error: GoldenSetError) -> CLIFailure {
        CLIFailure(code: error.kind == .io ? CLIFailure.runtime : CLIFailure.usage, message: error.message)
    }

    static func parseTimeout(_ text: String) -> Double? {
        ConfigDuration.seconds(text).flatMap { $0 > 0 ? $0 : nil }
    }

    /// Loads the set and refuses it unless its lock matches, without building judge clients.
    static func verify(name: String, config: EvaldConfig) throws {
        let (catalog, problems) = JudgeCatalog.load(
            directory: config.judge.dir, endpoints: config.endpoints, defaultEndpoint: config.judge.defaultEndpoint, send: config.judge.send)
        guard problems.isEmpty else {
            throw ConfigErrors(problems.map { ConfigProblem(file: $0.path, line: $0.line, key: $0.key ?? "judge", message: $0.message) })
        }
        do {
            try GoldenSetLoader.verifyLock(GoldenSetLoader.load(name: name, config: config, rubrics: catalog.rubrics))
        } catch {
            throw failure(error)
        }
    }

    /// Loads and verifies the set, then runs every check and judge on it: on its stored answers,
    /// or with `replay`, on the answers that endpoint gives to the cases' inputs now.
    static func run(
        name: String, config: EvaldConfig, judgeTimeout: Double, replay: String? = nil
    ) async throws -> (
        set: GoldenSet, result: GoldenRunResult
    ) {
        let transport = HTTPTransport()
        do {
            let (roster, warnings) = try JudgeRoster.build(config: config, transport: transport)
            // A missing key only skips its judges (the run says so); never print the key itself.
            for warning in warnings { CLIFailure.printError("evald: warning: \(warning)") }
            let set: GoldenSet
            do {
                set = try GoldenSetLoader.load(name: name, config: config, rubrics: roster.members.map(\.rubric))
                try GoldenSetLoader.verifyLock(set)
            } catch {
                throw failure(error)
            }
            var cases = set.cases
            if let replay {
                cases = try await answered(cases, endpoint: replay, config: config, transport: transport)
            }
            let runner = GoldenRunner(checks: try Daemon.makeCheckPlan(config), roster: roster)
            let result = await runner.run(set: name, cases: cases, judgeTimeout: judgeTimeout)
            try? await transport.shutdown()
            return (set, result)
        } catch {
            try? await transport.shutdown()
            throw error
        }
    }

    /// The cases answered anew by `endpoint`, as the canary sends them. Cases whose call failed
    /// are left out with a warning (an outage is the endpoint's health, not the answers'
    /// quality); no answer at all is a runtime failure (exit 3).
    static func answered(_ cases: [GoldenCase], endpoint: String, config: EvaldConfig, transport: HTTPTransport) async throws -> [GoldenCase] {
        let replies: [GoldenReplayer.Reply]
        do {
            replies = try await GoldenReplayer.answer(
                cases, endpoint: endpoint, config: config, transport: transport, environment: ProcessInfo.processInfo.environment)
        } catch let error as GoldenReplayError {
            throw CLIFailure(code: CLIFailure.usage, message: "evald: --replay: \(error.description)")
        }
        let failed = replies.filter { $0.case.record.status == .error }
        if let first = failed.first {
            CLIFailure.printError(
                "evald: warning: \(failed.count) of \(cases.count) cases got no answer from endpoint \(endpoint) and are not scored (first: \(first.case.id): \(first.case.record.error ?? "error"))"
            )
        }
        guard failed.count < cases.count else {
            throw CLIFailure(code: CLIFailure.runtime, message: "evald: endpoint \(endpoint) answered none of the \(cases.count) cases")
        }
        return replies.filter { $0.case.record.status != .error }.map(\.case)
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func number(_ value: Double?, digits: Int = 3) -> String {
        guard let value, value.isFinite else { return "-" }
        return String(format: "%.\(digits)f", value)
    }

    static func signed(_ value: Double?, digits: Int = 3) -> String {
        guard let value, value.isFinite else { return "-" }
        return String(format: "%+.\(digits)f", value)
    }

    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let count = text.count
        guard count < width else { return text }
        let fill = String(repeating: " ", count: width - count)
        return right ? fill + text : text + fill
    }

    /// Lines about the judges: which ran, which were skipped and why, errors with the first message.
    static func judgeLines(_ result: GoldenRunResult) -> [String] {
        var lines: [String] = []
        let skipped = result.judges.filter { $0.skipped != nil && $0.cases > 0 }
        for judge in result.judges where judge.skipped == nil && judge.cases > 0 {
            var line = "judge \(judge.identity): \(judge.scored) of \(judge.cases) cases scored"
            if judge.errors > 0 {
                let first = result.cases.lazy.flatMap(\.judges).first { $0.judge == judge.name && $0.status == .error }?.error ?? ""
                let kinds = result.errorKinds(judge: judge.name).map { "\($0.kind) \($0.count)" }.joined(separator: ", ")
                line += ", \(judge.errors) judge error\(judge.errors == 1 ? "" : "s") (\(kinds); not scored; first: \(first.prefix(200)))"
            }
            lines.append(line)
        }
        if !skipped.isEmpty {
            let reasons = Set(skipped.compactMap(\.skipped))
            let reason = reasons.count == 1 ? reasons.first! : "see `evald check-config`"
            lines.append("judges skipped (not failing): \(skipped.map(\.name).joined(separator: ", ")): \(reason)")
        }
        if result.judgeTimedOut { lines.append("warning: --judge-timeout reached; unfinished judge calls are counted as judge errors") }
        return lines
    }

    static func calibrationLines(_ calibrations: [JudgeCalibration]) -> [String] {
        var lines: [String] = []
        for c in calibrations {
            var line = "judge \(c.identity): \(c.n) labelled, accuracy \(number(c.accuracy, digits: 2)), kappa \(number(c.kappa, digits: 2))"
            if let mae = c.meanAbsoluteError { line += ", MAE \(number(mae, digits: 2))" }
            if c.scoreN != nil { line += ", Spearman \(number(c.spearman, digits: 2))" }
            lines.append(line)
            let m = c.confusion
            lines.append(
                "  pass/fail (human x judge): pass/pass \(m.humanPassJudgePass), pass/fail \(m.humanPassJudgeFail), fail/pass \(m.humanFailJudgePass), fail/fail \(m.humanFailJudgeFail)"
            )
            if let note = c.kappaNote { lines.append("  kappa: \(note)") }
            if let note = c.spearmanNote { lines.append("  Spearman: \(note)") }
            if let scores = c.scoreConfusion {
                lines.append("  scores (rows human, columns judge):")
                lines.append("    " + pad("", 4) + scores.scores.map { pad(String($0), 4, right: true) }.joined())
                for (i, row) in scores.counts.enumerated() {
                    lines.append("    " + pad(String(scores.scores[i]), 4) + row.map { pad(String($0), 4, right: true) }.joined())
                }
            }
            if c.flagged {
                lines.append(
                    "  FLAGGED: kappa \(number(c.kappa, digits: 2)) is below calibration.min_kappa \(number(c.minKappa, digits: 2)): its verdicts disagree with the human labels; revise the rubric (and re-lock) or lower min_kappa knowingly"
                )
            }
        }
        return lines
    }
}
