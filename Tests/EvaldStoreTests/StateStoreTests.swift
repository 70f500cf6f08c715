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
        batch.quarantined = [QuarantinedLine(filePath: "/s/a.jsonl", lineOffset: 200, lineBytes: 100, problem: LineProblem(.invalidJSON, "bad"), excerpt: Array("{x".utf8))]
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
        try store.recordStop(pid: 41, at: t + 6) // another process's stop does not count
        #expect(try store.heartbeat()?.stoppedAt == nil)
        try store.recordStop(pid: 42, at: t + 6)
        #expect(try store.heartbeat()?.stoppedAt == t + 6)
    }
}
