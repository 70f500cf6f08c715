import EvaldCore
import EvaldStore
import Foundation
import Testing

@Suite struct JudgeQueueStoreTests {
    let root = NSTemporaryDirectory() + "evald-judgeq-\(UUID().uuidString)"
    var dbPath: String { root + "/state/evald.db" }
    let t0 = Date(timeIntervalSince1970: 1_795_860_000)

    /// A store holding `count` evaluations queued for the judges given.
    func storeWithQueue(count: Int, judges: [String]) throws -> StateStore {
        let store = try StateStore.open(path: dbPath)
        let file = try store.trackSpoolFile(path: "/s/a.jsonl", device: 1, inode: 2, fingerprint: "fp", at: t0)
        var batch = IngestBatch(fileID: file.id, startOffset: 0, newOffset: Int64(count * 100), committedAt: t0)
        for i in 0..<count {
            var record = TraceRecord(recordID: "t\(i)", traceID: "t\(i)", timestamp: t0, model: "m")
            record.route = "support-chat"
            record.output = "o"
            var line = SampledLine(record: record, sampleRate: 1, lineOffset: Int64(i * 100), recordJSON: "{\"i\":\(i)}")
            line.judgeNames = judges
            batch.sampled.append(line)
        }
        try store.commitBatch(batch)
        return store
    }

    func verdict(_ id: Int64, _ judge: String, identity: String, score: Double? = 4, tokens: Int = 100) -> JudgeVerdictRecord {
        JudgeVerdictRecord(
            evaluationID: id, judgeName: judge, identity: identity, endpoint: "default",
            outcome: score.map { .scored(score: $0, passed: $0 >= 4, reason: "fine") }
                ?? .failed(kind: "no_json", message: "no JSON object", excerpt: "I think"),
            judgeModel: "judge-model", inputTokens: tokens, outputTokens: 0, latencyMs: 12, judgedAt: t0 + 60)
    }

    @Test func evaluationsAreQueuedWithTheBatchAndCommittedOnce() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try storeWithQueue(count: 3, judges: ["helpfulness", "tone"])
        #expect(try store.judgeQueueSummary().depth == 6)
        #expect(try store.counters()["judge_queued"] == 6)

        let due = try store.dueJudgements(limit: 10, now: t0, judges: ["helpfulness"], excluding: [])
        #expect(due.map(\.evaluationID) == [1, 2, 3])
        #expect(due.first?.recordJSON == "{\"i\":0}")
        // Those in flight are skipped; the limit still fills from the rest.
        let rest = try store.dueJudgements(limit: 1, now: t0, judges: ["helpfulness", "tone"], excluding: [due[0].key])
        #expect(rest.count == 1 && rest[0].key != due[0].key)

        #expect(try store.commitJudgement(verdict(1, "helpfulness", identity: "helpfulness@1+aaaa0000")))
        // A second commit of the same verdict (a crash after the commit, judged again) stores nothing.
        #expect(try store.commitJudgement(verdict(1, "helpfulness", identity: "helpfulness@1+aaaa0000")) == false)
        #expect(try store.judgeQueueSummary().depth == 5)
        #expect(try store.counters()["judged"] == 1)
        #expect(try store.tokensUsed(endpoint: "default", on: t0 + 60) == 200)
        let totals = try store.seriesTotals(since: t0 - 60, until: t0 + 120, route: nil, model: nil)
        let judgeSeries = try #require(totals.first { $0.metric == "judge:helpfulness@1+aaaa0000" })
        #expect(judgeSeries.cell.n == 1 && judgeSeries.cell.passN == 1 && judgeSeries.cell.sum == 4)
    }

    @Test func aJudgeErrorIsStoredWithItsExcerptAndIsNotAScore() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try storeWithQueue(count: 1, judges: ["helpfulness"])
        try store.commitJudgement(verdict(1, "helpfulness", identity: "helpfulness@1+aaaa0000", score: nil))
        let stored = try store.judgeVerdicts(evaluationID: 1)
        #expect(stored.map(\.outcome) == [.failed(kind: "no_json", message: "no JSON object", excerpt: "I think")])
        #expect(try store.counters()["judge_errors"] == 1)
        #expect(try store.judgeOutcomes(since: t0) == (judged: 1, errors: 1))
        let totals = try store.seriesTotals(since: t0 - 60, until: t0 + 120, route: nil, model: nil)
        #expect(!totals.contains { $0.metric.hasPrefix("judge:") })
    }

    @Test func deferredJudgementsWaitAndStaleOnesAreDroppedWithACount() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try storeWithQueue(count: 2, judges: ["helpfulness"])
        try store.deferJudgement(JudgementKey(evaluationID: 1, judgeName: "helpfulness"), until: t0 + 30, error: "retries_exhausted")
        #expect(try store.dueJudgements(limit: 10, now: t0, judges: ["helpfulness"], excluding: []).map(\.evaluationID) == [2])
        #expect(try store.dueJudgements(limit: 10, now: t0 + 31, judges: ["helpfulness"], excluding: []).map(\.attempts) == [1, 0])
        #expect(try store.dropStaleJudgements(queuedBefore: t0 - 1) == 0)
        #expect(try store.dropStaleJudgements(queuedBefore: t0 + 1) == 2)
        #expect(try store.counters()["judge_dropped_stale"] == 2)
        #expect(try store.judgeQueueSummary().depth == 0)
    }

    @Test func judgementsOfARemovedJudgeAreDropped() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try storeWithQueue(count: 2, judges: ["helpfulness", "old"])
        #expect(try store.dropJudgements(notIn: ["helpfulness"]) == 2)
        #expect(try store.judgeQueueSummary().waitingByJudge == ["helpfulness": 2])
    }
}
