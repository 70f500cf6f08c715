import EvaldCore
import EvaldStore
import Foundation
import Testing

@Suite struct StateStoreTests {
    let root = NSTemporaryDirectory() + "evald-store-\(UUID().uuidString)"
    var dbPath: String { root + "/state/evald.db" }

    func sampled(_ id: String, offset: Int64) -> SampledLine {
        var record = TraceRecord(recordID: id, traceID: id, timestamp: Date(timeIntervalSince1970: 1_795_860_000), model: "m")
        record.route = "r"
        record.output = "o"
        return SampledLine(record: record, sampleRate: 0.5, lineOffset: offset, recordJSON: "{}")
    }

    @Test func opensInWALModeAndReopens() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try StateStore.open(path: dbPath)
        let again = try StateStore.open(path: dbPath)
        #expect(try again.evaluationCount() == 0)
        #expect(try again.journalMode() == "wal")
        #expect(try StateStore.openExisting(path: root + "/nothing/evald.db") == nil)
    }

    @Test func commitBatchStoresEverythingWithTheOffset() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try StateStore.open(path: dbPath)
        let file = try store.trackSpoolFile(path: "/s/a.jsonl", device: 1, inode: 2, fingerprint: "fp", at: Date())
        var batch = IngestBatch(fileID: file.id, startOffset: 0, newOffset: 300, committedAt: Date())
        batch.sampled = [sampled("t1", offset: 0), sampled("t2", offset: 100)]
        batch.quarantined = [
            QuarantinedLine(filePath: "/s/a.jsonl", lineOffset: 200, lineBytes: 100, problem: LineProblem(.invalidJSON, "bad"), excerpt: Array("{x".utf8))
        ]
        batch.counts.linesRead = 3
        batch.counts.records = 2
        batch.counts.sampled = 2
        batch.counts.malformed = 1
        try store.commitBatch(batch)
        // The same bytes committed again (as after a crash between two stages) count nothing twice.
        try store.commitBatch(batch)
        #expect(try store.evaluations().map(\.traceID) == ["t1", "t2"])
        // A batch that overlaps committed bytes without continuing from them is refused.
        var overlapping = IngestBatch(fileID: file.id, startOffset: 100, newOffset: 400, committedAt: Date())
        overlapping.counts.linesRead = 3
        #expect(throws: StoreError.self) { try store.commitBatch(overlapping) }
        #expect(try store.quarantine(limit: 10).total == 1)
        #expect(try store.trackedSpoolFiles().first?.offset == 300)
        let counters = try store.counters()
        #expect(counters["lines_read"] == 3)
        #expect(counters["sampled"] == 2)
        #expect(counters["malformed"] == 1)
    }

    @Test func retiredFilesAreNoLongerTracked() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try StateStore.open(path: dbPath)
        let a = try store.trackSpoolFile(path: "/s/a.jsonl", device: 1, inode: 2, fingerprint: "fp", at: Date())
        let b = try store.trackSpoolFile(path: "/s/b.jsonl", device: 1, inode: 3, fingerprint: "fp2", at: Date())
        try store.renameSpoolFile(id: b.id, to: "/s/b-1.jsonl")
        try store.retireSpoolFile(id: a.id, because: .truncated, at: Date())
        #expect(try store.trackedSpoolFiles().map(\.path) == ["/s/b-1.jsonl"])
    }

    @Test func heartbeatAndStop() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try StateStore.open(path: dbPath)
        #expect(try store.heartbeat() == nil)
        let t = Date(timeIntervalSince1970: 1_795_860_000)
        try store.recordHeartbeat(pid: 42, hostname: "h", startedAt: t, at: t + 5, version: "x")
        #expect(try store.heartbeat()?.heartbeatAt == t + 5)
        #expect(try store.heartbeat()?.stoppedAt == nil)
        try store.recordStop(pid: 41, at: t + 6)  // another process's stop does not count
        #expect(try store.heartbeat()?.stoppedAt == nil)
        try store.recordStop(pid: 42, at: t + 6)
        #expect(try store.heartbeat()?.stoppedAt == t + 6)
    }
}

@Suite struct StateStoreMetricsTests {
    let root = NSTemporaryDirectory() + "evald-store-\(UUID().uuidString)"

    func line(_ id: String, minute: Double, latency: Double, passed: Bool, offset: Int64) -> SampledLine {
        var record = TraceRecord(recordID: id, traceID: id, timestamp: Date(timeIntervalSince1970: minute * 60 + 5), model: "m")
        record.route = "r"
        record.output = "o"
        record.latencyMs = latency
        var line = SampledLine(record: record, sampleRate: 1, lineOffset: offset, recordJSON: "{}")
        line.checkResults = [CheckResult(name: "fast", kind: "latency", passed: passed, detail: passed ? "ok" : "slow")]
        return line
    }

    @Test func checkResultsAndRollupsCommitWithTheBatch() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try StateStore.open(path: root + "/evald.db")
        let file = try store.trackSpoolFile(path: "/s/a.jsonl", device: 1, inode: 2, fingerprint: "fp", at: Date())
        var first = IngestBatch(fileID: file.id, startOffset: 0, newOffset: 100, committedAt: Date())
        first.sampled = [line("a", minute: 10, latency: 100, passed: true, offset: 0), line("b", minute: 10, latency: 300, passed: false, offset: 50)]
        try store.commitBatch(first)
        var second = IngestBatch(fileID: file.id, startOffset: 100, newOffset: 200, committedAt: Date())
        second.sampled = [line("c", minute: 10, latency: 200, passed: true, offset: 100), line("d", minute: 11, latency: 9000, passed: false, offset: 150)]
        try store.commitBatch(second)
        try store.commitBatch(second)  // a replay adds nothing
        // Lines already stored, committed again under a new offset (the file re-read after a
        // lost offset): the evaluations are ignored and so are their scores and rollups.
        var again = IngestBatch(fileID: file.id, startOffset: 200, newOffset: 300, committedAt: Date())
        again.sampled = [line("c", minute: 10, latency: 200, passed: true, offset: 100)]
        try store.commitBatch(again)
        #expect(try store.evaluationCount() == 4)

        let evaluations = try store.evaluations()
        #expect(try store.checkResults(evaluationID: evaluations[1].id) == [CheckResult(name: "fast", kind: "latency", passed: false, detail: "slow")])

        let minute10 = Date(timeIntervalSince1970: 600)
        let totals = try store.seriesTotals(since: minute10, until: minute10 + 60)
        let fast = try #require(totals.first { $0.metric == "check:fast" })
        #expect(fast.cell.n == 3 && fast.cell.passN == 2)
        let latency = try #require(totals.first { $0.metric == "op:latency_ms" })
        #expect(latency.cell.n == 3 && latency.cell.sum == 600)
        #expect(latency.cell.histogram?.total == 3)  // merged across the two batches
        // A window ending mid-minute includes that minute ("now" shows the current minute).
        #expect(try store.seriesTotals(since: minute10, until: minute10 + 30).first { $0.metric == "check:fast" }?.cell.n == 3)
        let both = try store.seriesTotals(since: minute10, until: minute10 + 120)
        #expect(both.first { $0.metric == "check:fast" }?.cell.n == 4)
        #expect(try store.seriesTotals(since: minute10, until: minute10 + 120, route: "other").isEmpty)
    }

    @Test func pruningRemovesOnlyWhatIsPastTheCutoffInBatches() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try StateStore.open(path: root + "/evald.db")
        let file = try store.trackSpoolFile(path: "/s/a.jsonl", device: 1, inode: 2, fingerprint: "fp", at: Date())
        var batch = IngestBatch(fileID: file.id, startOffset: 0, newOffset: 1000, committedAt: Date())
        batch.sampled = (0..<10).map { line("t\($0)", minute: Double($0), latency: 100, passed: true, offset: Int64($0) * 10) }
        try store.commitBatch(batch)
        let cutoff = Date(timeIntervalSince1970: 5 * 60)
        #expect(try store.pruneEvaluations(before: cutoff, limit: 3) == 3)
        #expect(try store.pruneEvaluations(before: cutoff, limit: 3) == 2)
        #expect(try store.pruneEvaluations(before: cutoff, limit: 3) == 0)
        #expect(try store.evaluations().map(\.traceID) == (5..<10).map { "t\($0)" })
        // Check results went with their evaluations.
        #expect(try store.checkResults(evaluationID: 1).isEmpty)
        #expect(try store.pruneRollups(before: cutoff, limit: 1000) == 5)  // five minutes (of each table)
        #expect(try store.seriesTotals(since: .distantPast, until: .distantFuture).first { $0.metric == "check:fast" }?.cell.n == 5)
    }
}
