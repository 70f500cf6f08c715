import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// User feedback through the real binary: feedback lines and records' `feedback` field, counted
/// from every line whatever the sample, watched like checks, and counted once across kill -9.
@Suite(.serialized) struct FeedbackIntegrationTests {
    static func ts(_ n: Int) -> String { RFC3339.format(Date(timeIntervalSince1970: 1_795_824_000 + Double(n) * 10), fractional: false) }

    static func feedbackLine(_ n: Int, down: Bool, prompt: String = "support-v7") -> String {
        #"{"kind":"feedback","trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"\#(ts(n))","route":"support-chat","model":"gpt-4o-mini","prompt_version":"\#(prompt)","value":"\#(down ? "down" : "up")"}"#
            + "\n"
    }

    static func record(_ n: Int, feedback: String) -> String {
        #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"\#(ts(n))","route":"support-chat","model":"gpt-4o-mini","prompt_version":"support-v7","input":"Where is order A-\#(n)?","output":"It ships tomorrow.","latency_ms":800,"feedback":\#(feedback)}"#
            + "\n"
    }

    /// Read through a read-only connection, as `evald status` reads: it polls while the daemon
    /// writes, and a read-write open would queue for the write lock behind the daemon's commits.
    /// 0 while the daemon has not yet made or migrated the database.
    func feedbackRows(_ h: EvaldHarness) throws -> Int {
        guard let store = try? h.readOnlyStore() else { return 0 }
        return try store.feedbackCount()
    }

    @Test func feedbackLinesTurningFromTenToThirtyPercentDownFireAQualityRegressionOnThumbs() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(rate: 0.01)
            var text = ""
            for n in 0..<3_000 { text += Self.feedbackLine(n, down: n % 10 == 0) }
            // A bad feedback line is quarantined and says why.
            text += #"{"kind":"feedback","trace_id":"x","route":"support-chat","value":"meh"}"# + "\n"
            for n in 3_000..<4_500 { text += Self.feedbackLine(n, down: n % 10 < 3) }
            try h.append("feedback.jsonl", text)
            let run = try h.run(["run", "--once"])
            #expect(run.code == 0, "\(run.stderr)")

            let status = try h.status()["spool"] as? [String: Any]
            #expect(status?["lines_read"] as? Int == 4_501)
            #expect(status?["feedback"] as? Int == 4_500, "every feedback line counts, sampled or not")
            #expect(status?["records"] as? Int == 0, "a feedback line is no record")
            #expect(status?["malformed"] as? Int == 1)
            let quarantine = try h.run(["spool", "quarantine", "--json"])
            let bad = try #require((quarantine.json["lines"] as? [[String: Any]])?.first)
            #expect(bad["reason"] as? String == "invalid_field")
            #expect((bad["detail"] as? String)?.contains("feedback line: \"value\" must be \"up\", \"down\" or a number") == true, "\(bad)")

            let alerts = try h.run(["alerts", "--json"]).json["alerts"] as? [[String: Any]] ?? []
            let regression = try #require(
                alerts.first { $0["alertname"] as? String == "QualityRegression" && ($0["labels"] as? [String: String])?["metric"] == "feedback:thumbs" },
                "\(alerts.map { $0["labels"] ?? "" })")
            let labels = regression["labels"] as? [String: String] ?? [:]
            #expect(labels["route"] == "support-chat" && labels["model"] == "gpt-4o-mini" && labels["severity"] == "critical")
            #expect(((regression["annotations"] as? [String: String])?["summary"] ?? "").contains("Share of thumbs up (feedback:thumbs)"), "\(regression)")

            let metrics = try h.run(["metrics", "--window", "7d", "--until", "2026-11-30T00:00:00Z", "--json"])
            let thumbs = try #require((metrics.json["series"] as? [[String: Any]])?.first { $0["metric"] as? String == "feedback:thumbs" })
            #expect(thumbs["n"] as? Int == 4_500)
            #expect(abs((thumbs["pass_rate"] as? Double ?? 0) - (2_700.0 + 1_050.0) / 4_500.0) < 0.001)
        }
    }

    @Test func aRecordsFeedbackCountsWhetherOrNotTheRecordIsSampled() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(rate: 0.01)
            var text = ""
            for n in 0..<400 {
                let feedback = ["\"up\"", "\"down\"", "4", "null"][n % 4]
                text += Self.record(n, feedback: feedback)
            }
            try h.append("traces.jsonl", text)
            #expect(try h.run(["run", "--once"]).code == 0)
            let status = try h.status()["spool"] as? [String: Any]
            #expect(status?["records"] as? Int == 400)
            #expect(status?["feedback"] as? Int == 300)
            #expect(try feedbackRows(h) == 300)
            let metrics = try h.run(["metrics", "--window", "7d", "--until", "2026-11-30T00:00:00Z", "--json"])
            let series = metrics.json["series"] as? [[String: Any]] ?? []
            let thumbs = try #require(series.first { $0["metric"] as? String == "feedback:thumbs" })
            #expect(thumbs["n"] as? Int == 200 && thumbs["pass_rate"] as? Double == 0.5)
            let score = try #require(series.first { $0["metric"] as? String == "feedback:score" })
            #expect(score["n"] as? Int == 100 && score["mean_score"] as? Double == 4 && score["pass_rate"] is NSNull)
            // The sampled records keep their feedback too (up = 1, down = 0).
            let sampled = try h.store().evaluations()
            #expect(sampled.count < 400)
        }
    }

    @Test func killMinus9WhileReadingFeedbackCountsEveryPieceOnce() async throws {
        try await onTestThreads {
            // Every record sampled: a batch commits every 512 of them, so a file of 20,000 lines
            // is read in about ten commits, and the kills land between and within them.
            let h = try EvaldHarness(rate: 1, pollInterval: "50ms")
            let perRound = 20_000
            let total = 4 * perRound
            var rng = SplitMix64(state: 21)
            var lines: [String] = []
            for n in 0..<total {
                lines.append(n % 4 == 3 ? Self.record(n, feedback: "\"up\"") : Self.feedbackLine(n, down: n % 7 == 0))
            }
            var progress: [Int] = []
            for round in 0..<4 {
                try h.append("feedback-\(round).jsonl", lines[(round * perRound)..<((round + 1) * perRound)].joined())
                let before = try feedbackRows(h)
                let daemon = try h.startDaemon(logName: "daemon-\(round).log")
                // Killed at a random moment once it has committed some of this round's lines.
                #expect(try h.waitUntil(timeout: 60) { try feedbackRows(h) > before })
                usleep(useconds_t(rng.next() % 300_000))
                kill(daemon.processIdentifier, SIGKILL)
                daemon.waitUntilExit()
                progress.append(try feedbackRows(h))
            }
            #expect(try h.run(["run", "--once"]).code == 0)
            #expect(try feedbackRows(h) == total, "feedback rows after kills at \(progress)")
            #expect(try h.store().counters()["feedback"] == Int64(total))
            let totals = try h.store().seriesTotals(since: .distantPast, until: .distantFuture)
            #expect(totals.filter { $0.metric == "feedback:thumbs" }.reduce(0) { $0 + $1.cell.n } == Int64(total))
            let cursor = try h.store().detectionStates(kind: "cursor")["feedback"]
            #expect(cursor == "\(total)", "detection fed every piece")
        }
    }
}
