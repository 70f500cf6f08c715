import EvaldCore
import EvaldDaemon
import EvaldStore
import EvaldTesting
import Foundation
import Logging
import Testing

@Suite struct RetentionServiceTests {
    @Test func prunesRawDataAfterRawDaysAndRollupsAfterRollupDays() async throws {
        let root = NSTemporaryDirectory() + "evald-retention-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try StateStore.open(path: root + "/evald.db")
        let file = try store.trackSpoolFile(path: "/s/a.jsonl", device: 1, inode: 2, fingerprint: "fp", at: Date())
        let day0 = Date(timeIntervalSince1970: 1_795_860_000)
        var batch = IngestBatch(fileID: file.id, startOffset: 0, newOffset: 10_000, committedAt: day0)
        for n in 0..<1200 {
            var record = TraceRecord(recordID: "t\(n)", traceID: "t\(n)", timestamp: day0 + Double(n), model: "m")
            record.output = "o"
            batch.sampled.append(SampledLine(record: record, sampleRate: 1, lineOffset: Int64(n), recordJSON: "{}"))
        }
        try store.commitBatch(batch)

        let clock = ManualClock(day0)
        let service = RetentionService(
            store: store, retention: RetentionConfig(rawDays: 30, rollupDays: 400), logger: Logger(label: "test"),
            now: { clock.now }, batchSize: 500, pause: 0)
        #expect(try await service.prune() == RetentionService.Pruned())

        // Just inside retention: nothing goes (the newest trace is day0 + 1199 s).
        clock.advance(days: 29.9)
        #expect(try await service.prune().evaluations == 0)
        clock.advance(days: 1.1)
        let pruned = try await service.prune()
        #expect(pruned.evaluations == 1200)  // in three batches of at most 500
        #expect(pruned.rollups == 0)
        #expect(try store.evaluationCount() == 0)
        #expect(try store.seriesTotals(since: .distantPast, until: .distantFuture).first?.cell.n == 1200)

        clock.advance(days: 370)
        #expect(try await service.prune().rollups > 0)
        #expect(try store.seriesTotals(since: .distantPast, until: .distantFuture).isEmpty)
    }
}
