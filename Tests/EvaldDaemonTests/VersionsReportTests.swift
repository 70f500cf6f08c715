import EvaldCore
import EvaldReports
import EvaldStore
import Foundation
import Testing

@Suite struct VersionsReportTests {
    static let settings = ChangeSettings(drift: DriftSettings(alpha: 0.01, minDrop: 0.05, minSamples: 100), lookback: 7 * 86400)

    func combination(_ prompt: String, model: String = "m", first: Double) -> LineageCombination {
        LineageCombination(
            route: "r", promptVersion: prompt, model: model, responseModel: nil, systemFingerprint: nil,
            firstSeen: Date(timeIntervalSince1970: first), lastSeen: Date(timeIntervalSince1970: first + 100), evaluations: 10, ok: 10)
    }

    @Test func aCombinationIsStartedByTheChangeJustBeforeItsFirstSighting() {
        var watch = ChangeWatch(route: "r", dimension: .promptVersion)
        var t = 1_000_000.0
        for n in 0..<300 {
            t += 10
            _ = watch.noteAnswer(version: n < 200 ? "v1" : "v2", at: Date(timeIntervalSince1970: t), evaluationID: Int64(n + 1), settings: Self.settings)
        }
        let switchedAt = 1_000_000.0 + 201 * 10
        let report = VersionsReport.build(
            combinations: [
                combination("v1", first: 1_000_010), combination("v2", first: switchedAt),
                // v2 on another model two hours later: no change of its own.
                combination("v2", model: "other", first: switchedAt + 7200),
            ], changes: [watch], providers: [], judges: [])
        #expect(report.entries.map { $0.startedBy?.change } == [nil, "deploy", nil])
        #expect(report.entries[1].startedBy?.from == "v1" && report.entries[1].startedBy?.to == "v2")
        #expect(report.text.contains("started by deploy v1 -> v2"))
    }
}
