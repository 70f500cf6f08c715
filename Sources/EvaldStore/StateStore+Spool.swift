import EvaldCore
import Foundation
import GRDB

extension StateStore: SpoolCheckpointStore {
    public func trackedSpoolFiles() throws -> [TrackedSpoolFile] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, path, device, inode, fingerprint, offset FROM spool_file WHERE state = 'active' ORDER BY id")
                .map(Self.trackedFile)
        }
    }

    public func trackSpoolFile(path: String, device: UInt64, inode: UInt64, fingerprint: String, at: Date) throws -> TrackedSpoolFile {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO spool_file (path, device, inode, fingerprint, offset, state, first_seen_at, updated_at)
                    VALUES (?, ?, ?, ?, 0, 'active', ?, ?)
                    """,
                arguments: [path, Int64(bitPattern: device), Int64(bitPattern: inode), fingerprint, at.timeIntervalSince1970, at.timeIntervalSince1970])
            return TrackedSpoolFile(id: db.lastInsertedRowID, path: path, device: device, inode: inode, fingerprint: fingerprint, offset: 0)
        }
    }

    public func renameSpoolFile(id: Int64, to path: String) throws {
        try write { db in try db.execute(sql: "UPDATE spool_file SET path = ? WHERE id = ?", arguments: [path, id]) }
    }

    public func retireSpoolFile(id: Int64, because reason: SpoolFileRetirement, at: Date) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE spool_file SET state = ?, retired_at = ? WHERE id = ?",
                arguments: [reason.rawValue, at.timeIntervalSince1970, id])
        }
    }

    /// Stores the evaluations and quarantined lines of a run of bytes, the counters, and the
    /// file's new offset in one transaction. A batch whose bytes are already behind the
    /// file's committed offset changes nothing, so nothing is ever counted twice.
    public func commitBatch(_ batch: IngestBatch) throws {
        let sketches = try write { db -> [String: TenantSketch] in
            let committed = try Int64.fetchOne(db, sql: "SELECT offset FROM spool_file WHERE id = ?", arguments: [batch.fileID])
            guard let committed else {
                throw StoreError(path: path, message: "spool file #\(batch.fileID) is not tracked; is a second evald writing to this state_dir?")
            }
            guard batch.newOffset > committed else { return [:] }
            guard batch.startOffset == committed else {
                throw StoreError(
                    path: path,
                    message:
                        "spool file #\(batch.fileID): batch starts at byte \(batch.startOffset) but the committed offset is \(committed); is a second evald writing to this state_dir?"
                )
            }
            let at = batch.committedAt.timeIntervalSince1970
            if !batch.sampled.isEmpty {
                // The offset check above keeps a batch from being stored twice.
                var writer = CompactWriter(db, committedDictionaries: recordDictionaries)
                // Lines already stored (the file read again after a lost offset) are passed
                // over with their scores and rollups.
                let stored = try Row.fetchOne(db, sql: "SELECT stored_offset, stored_index FROM spool_file WHERE id = ?", arguments: [batch.fileID])
                var through: (offset: Int64, index: Int) = (stored?["stored_offset"] ?? -1, stored?["stored_index"] ?? -1)
                let fresh = batch.sampled.sorted { ($0.lineOffset, $0.indexInLine) < ($1.lineOffset, $1.indexInLine) }.filter { line in
                    guard (line.lineOffset, line.indexInLine) > (through.offset, through.index) else { return false }
                    through = (line.lineOffset, line.indexInLine)
                    return true
                }
                let rows = fresh.map { line in
                    CompactWriter.Row(
                        record: line.record, sampleRate: line.sampleRate, fileID: batch.fileID, lineOffset: line.lineOffset,
                        indexInLine: line.indexInLine, ingestedAt: at, json: Array(line.recordJSON.utf8), checks: line.checkResults,
                        hasContent: line.record.hasContent, id: nil)
                }
                let ids = try writer.insert(rows)
                let enqueue = try SQLiteInsert(db, sql: "INSERT OR IGNORE INTO judge_queue (evaluation_id, judge_name, enqueued_at) VALUES (?, ?, ?)")
                var queued: Int64 = 0
                var rollups = RollupBatch()
                try db.execute(
                    sql: "UPDATE spool_file SET stored_offset = ?, stored_index = ? WHERE id = ?", arguments: [through.offset, through.index, batch.fileID])
                for (line, evaluationID) in zip(fresh, ids) {
                    for judge in line.judgeNames {
                        try enqueue.run(evaluationID, judge, at)
                        queued += 1
                    }
                    rollups.add(line.record, checks: line.checkResults, readAt: Date(timeIntervalSince1970: at))
                }
                try Self.addRollups(db, rollups, writer: &writer)
                try Self.add(db, ["judge_queued": queued])
            }
            if !batch.quarantined.isEmpty {
                let insert = try db.cachedStatement(
                    sql: """
                        INSERT OR IGNORE INTO quarantine (file_id, file_path, line_offset, line_bytes, reason, detail, excerpt, quarantined_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                for line in batch.quarantined {
                    try insert.execute(arguments: [
                        batch.fileID, line.filePath, line.lineOffset, line.lineBytes,
                        line.reason.rawValue, line.detail, Data(line.excerpt), at,
                    ])
                }
            }
            try Self.commitFeedback(db, batch.feedback, fileID: batch.fileID, at: at)
            let c = batch.counts
            try Self.add(
                db,
                [
                    "lines_read": c.linesRead, "records": c.records, "malformed": c.malformed,
                    "sampled": c.sampled, "skipped_spans": c.skippedSpans, "blank_lines": c.blankLines,
                ])
            let sketches = try Self.addUsage(db, batch.usage, sketches: tenantSketches)
            try Self.addFailedCalls(db, batch.failedOutsideSample, fileID: batch.fileID)
            try Self.addBudgetCalls(db, batch.usage, timeZone: batch.usage.timeZone)
            try db.execute(
                sql: "UPDATE spool_file SET offset = ?, updated_at = ? WHERE id = ?",
                arguments: [batch.newOffset, at, batch.fileID])
            return sketches
        }
        tenantSketches.keep(sketches)
    }

    /// Adds a batch's rollup deltas to the minute buckets; histograms merge inside SQLite
    /// (`evald_histogram_merge`), so each cell costs one statement.
    static func addRollups(_ db: Database, _ rollups: RollupBatch, writer: inout CompactWriter) throws {
        guard !rollups.isEmpty else { return }
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO rollup_cell (minute, series_id, n, pass_n, sum, sum_sq, hist) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(minute, series_id) DO UPDATE SET
                    n = n + excluded.n, pass_n = pass_n + excluded.pass_n, sum = sum + excluded.sum,
                    sum_sq = sum_sq + excluded.sum_sq, hist = evald_histogram_merge(hist, excluded.hist)
                """)
        for (key, cell) in rollups.cells {
            try upsert.execute(arguments: [
                key.minute, try writer.seriesID(metric: key.metric, route: key.route, model: key.model), cell.n, cell.passN,
                cell.sum, cell.sumSquares, cell.histogram?.serialized,
            ])
        }
        let upsertOperational = try db.cachedStatement(
            sql: """
                INSERT INTO rollup_op_cell (minute, series_id, calls, ok_calls, latency_n, latency_sum, latency_sq, latency_hist,
                    cost_n, cost_sum, cost_sq, tokens_n, tokens_sum, tokens_sq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(minute, series_id) DO UPDATE SET
                    calls = calls + excluded.calls, ok_calls = ok_calls + excluded.ok_calls,
                    latency_n = latency_n + excluded.latency_n, latency_sum = latency_sum + excluded.latency_sum,
                    latency_sq = latency_sq + excluded.latency_sq, latency_hist = evald_histogram_merge(latency_hist, excluded.latency_hist),
                    cost_n = cost_n + excluded.cost_n, cost_sum = cost_sum + excluded.cost_sum, cost_sq = cost_sq + excluded.cost_sq,
                    tokens_n = tokens_n + excluded.tokens_n, tokens_sum = tokens_sum + excluded.tokens_sum, tokens_sq = tokens_sq + excluded.tokens_sq
                """)
        for (key, op) in rollups.operational {
            try upsertOperational.execute(arguments: [
                key.minute, try writer.seriesID(metric: "", route: key.route, model: key.model), op.calls.n, op.calls.passN,
                op.latency.n, op.latency.sum, op.latency.sumSquares, op.latency.histogram?.serialized,
                op.cost.n, op.cost.sum, op.cost.sumSquares, op.outputTokens.n, op.outputTokens.sum, op.outputTokens.sumSquares,
            ])
        }
    }

    /// SQL function merging two serialized `LogHistogram`s (either may be NULL).
    static let histogramMerge = DatabaseFunction("evald_histogram_merge", argumentCount: 2, pure: true) { values in
        let blobs = values.compactMap { Data.fromDatabaseValue($0) }
        guard blobs.count == 2, var merged = LogHistogram(serialized: blobs[0]), let other = LogHistogram(serialized: blobs[1]) else {
            return blobs.first
        }
        merged.merge(other)
        return merged.serialized
    }

    static func add(_ db: Database, _ deltas: KeyValuePairs<String, Int64>) throws {
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO counter (name, value) VALUES (?, ?)
                ON CONFLICT(name) DO UPDATE SET value = value + excluded.value
                """)
        for (name, delta) in deltas where delta != 0 {
            try upsert.execute(arguments: [name, delta])
        }
    }

    static func trackedFile(_ row: Row) -> TrackedSpoolFile {
        TrackedSpoolFile(
            id: row["id"], path: row["path"],
            device: UInt64(bitPattern: row["device"]), inode: UInt64(bitPattern: row["inode"]),
            fingerprint: row["fingerprint"], offset: row["offset"])
    }
}
