import EvaldCore
import EvaldStore
import Foundation

/// A replay's result as `evald replay` and `evald explain r-N` show it: each metric compared
/// paired (production against candidate on the same inputs), and the inputs the candidate lost.
public struct ReplayReport: Sendable {
    public var replay: StoredReplay
    public var metrics: [ReplayMetricComparison]
    public var losses: [Loss]
    public var minDrop: Double

    public struct Loss: Sendable, Equatable {
        public var evaluationID: Int64
        public var metric: String
        /// Redacted for display.
        public var input: String?
        public var production: String?
        public var candidate: String?
    }

    /// Losses shown in the text form; the JSON form lists them all.
    public static let shownLosses = 10

    public var worse: [ReplayMetricComparison] { metrics.filter { $0.verdict == .worse } }

    public static func gather(replay: StoredReplay, store: StateStore, minDrop: Double) -> ReplayReport {
        let done = replay.items.filter { $0.state == .done }
        let pairs = done.compactMap { item -> ReplayPair? in
            guard let production = item.production, let candidate = item.candidate else { return nil }
            return ReplayPair(evaluationID: item.evaluationID, production: production, candidate: candidate)
        }
        let metrics = PairedComparison.compare(pairs, minDrop: minDrop)
        let detector = PIIDetector()
        var losses: [Loss] = []
        for item in done {
            guard let production = item.production, let candidate = item.candidate else { continue }
            let lost = ReplayPair(evaluationID: item.evaluationID, production: production, candidate: candidate).lostMetrics
            guard !lost.isEmpty else { continue }
            let input = (try? store.recordJSON(evaluationID: item.evaluationID)).flatMap { $0 }.flatMap { json -> String? in
                guard let value = try? JSONParser.parse(json), let record = try? NativeRecordDecoder.decode(value) else { return nil }
                return record.input.last { $0.role == "user" }?.content
            }
            for metric in lost {
                losses.append(
                    Loss(
                        evaluationID: item.evaluationID, metric: metric, input: input.map(detector.redact),
                        production: item.productionOutput.map(detector.redact), candidate: item.candidateOutput.map(detector.redact)))
            }
        }
        return ReplayReport(replay: replay, metrics: metrics, losses: losses, minDrop: minDrop)
    }

    func count(_ state: StoredReplay.Item.State) -> Int { replay.items.count { $0.state == state } }

    public var json: JSONValue {
        .object([
            ("id", .string(replay.publicID)),
            ("route", .string(replay.route)),
            ("endpoint", .string(replay.endpoint)),
            ("model", replay.model.map(JSONValue.string) ?? .null),
            ("system_prompt_file", replay.systemPromptFile.map(JSONValue.string) ?? .null),
            ("prompt_version", replay.promptVersion.map(JSONValue.string) ?? .null),
            ("n", .int(Int64(count(.done)))),
            ("inputs", .int(Int64(replay.items.count))),
            ("failed", .int(Int64(count(.failed)))),
            ("interrupted", .int(Int64(count(.interrupted)))),
            ("pending", .int(Int64(count(.pending)))),
            ("tokens", .int(Int64(replay.tokensUsed))),
            ("stopped", replay.stopped.map(JSONValue.string) ?? .null),
            (
                "metrics",
                .array(
                    metrics.map { m in
                        .object([
                            ("metric", .string(m.metric)), ("measure", .string(m.measure.rawValue)), ("n", .int(Int64(m.n))),
                            ("production", .double(m.production)), ("candidate", .double(m.candidate)), ("difference", .double(m.difference)),
                            ("ci_low", .double(m.ciLow)), ("ci_high", .double(m.ciHigh)), ("p_value", .double(m.pValue)),
                            ("lost", .int(Int64(m.lost))), ("won", .int(Int64(m.won))), ("verdict", .string(m.verdict.rawValue)),
                        ])
                    })
            ),
            (
                "losses",
                .array(
                    losses.map { loss in
                        .object([
                            ("evaluation", .int(loss.evaluationID)), ("metric", .string(loss.metric)),
                            ("input", loss.input.map(JSONValue.string) ?? .null),
                            ("production_output", loss.production.map(JSONValue.string) ?? .null),
                            ("candidate_output", loss.candidate.map(JSONValue.string) ?? .null),
                        ])
                    })
            ),
        ])
    }

    public var text: String {
        var lines: [String] = []
        var candidate: [String] = []
        if let file = replay.systemPromptFile { candidate.append("system prompt \(file)") }
        if let model = replay.model { candidate.append("model \(model)") }
        lines.append(
            "replay \(replay.publicID): route \(replay.route), endpoint \(replay.endpoint), candidate \(candidate.isEmpty ? "as production" : candidate.joined(separator: ", "))"
        )
        lines.append(
            "production prompt version \(replay.promptVersion ?? "(none)"); \(replay.items.count) inputs: \(count(.done)) compared, \(count(.failed)) failed, \(count(.interrupted)) interrupted, \(count(.pending)) not sent; \(replay.tokensUsed) candidate tokens"
        )
        if let stopped = replay.stopped { lines.append("stopped: \(stopped) (continue with `evald replay --resume \(replay.publicID)`)") }
        lines.append("")
        if metrics.isEmpty {
            lines.append("no metric compared yet")
        } else {
            let header = ["metric", "measure", "n", "production", "candidate", "difference", "95% interval", "p", "verdict"]
            let rows = metrics.map { m -> [String] in
                [
                    m.metric, m.measure.rawValue, "\(m.n)", Self.number(m.production), Self.number(m.candidate), Self.signed(m.difference),
                    "[\(Self.signed(m.ciLow)), \(Self.signed(m.ciHigh))]", String(format: "%.4f", m.pValue), m.verdict.rawValue,
                ]
            }
            let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
            for row in [header] + rows {
                lines.append(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
            }
            lines.append(
                "worse: a significant drop (p < 0.05) of at least \(Self.number(minDrop)) in a pass rate or \(Self.number(2 * minDrop)) points in a mean score; equivalent: the interval within that margin"
            )
        }
        if !losses.isEmpty {
            lines.append("")
            lines.append(
                "inputs the candidate lost (\(losses.count); personal data masked)\(losses.count > Self.shownLosses ? ", the first \(Self.shownLosses)" : ""):")
            for loss in losses.prefix(Self.shownLosses) {
                lines.append("  evaluation \(loss.evaluationID)  \(loss.metric)")
                lines.append("    input:      \(Self.excerpt(loss.input))")
                lines.append("    production: \(Self.excerpt(loss.production))")
                lines.append("    candidate:  \(Self.excerpt(loss.candidate))")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func number(_ value: Double) -> String { String(format: "%.3f", value) }
    static func signed(_ value: Double) -> String { String(format: "%+.3f", value) }

    static func excerpt(_ text: String?) -> String {
        guard let text else { return "(not stored)" }
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count > 160 ? String(flat.prefix(160)) + "..." : flat
    }
}
