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
        try write { db in
            let committed = try Int64.fetchOne(db, sql: "SELECT offset FROM spool_file WHERE id = ?", arguments: [batch.fileID])
            guard let committed else {
                throw StoreError(path: path, message: "spool file #\(batch.fileID) is not tracked; is a second evald writing to this state_dir?")
            }
            guard batch.newOffset > committed else { return }
            guard batch.startOffset == committed else {
                throw StoreError(
                    path: path,
                    message:
                        "spool file #\(batch.fileID): batch starts at byte \(batch.startOffset) but the committed offset is \(committed); is a second evald writing to this state_dir?"
                )
            }
            let at = batch.committedAt.timeIntervalSince1970
            if !batch.sampled.isEmpty {
                let insert = try db.cachedStatement(
                    sql: """
                        INSERT OR IGNORE INTO evaluation (record_id, trace_id, file_id, line_offset, index_in_line, ts, ingested_at,
                            route, tenant, provider, model, response_model, system_fingerprint, prompt_version, status, error,
                            finish_reason, latency_ms, input_tokens, output_tokens, cost_usd, feedback, has_content, sample_rate, record_json)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                let insertCheck = try db.cachedStatement(sql: "INSERT INTO check_result (evaluation_id, name, kind, passed, detail) VALUES (?, ?, ?, ?, ?)")
                let enqueue = try db.cachedStatement(sql: "INSERT OR IGNORE INTO judge_queue (evaluation_id, judge_name, enqueued_at) VALUES (?, ?, ?)")
                var queued: Int64 = 0
                var rollups = RollupBatch()
                for line in batch.sampled {
                    let r = line.record
                    try insert.execute(arguments: [
                        r.recordID, r.traceID, batch.fileID, line.lineOffset, line.indexInLine, r.timestamp.timeIntervalSince1970, at,
                        r.route, r.tenant, r.provider, r.model, r.responseModel, r.systemFingerprint, r.promptVersion,
                        r.status.rawValue, r.error, r.finishReason, r.latencyMs, r.inputTokens, r.outputTokens, r.costUSD,
                        r.feedback, r.hasContent, line.sampleRate, line.recordJSON,
                    ])
                    guard db.changesCount == 1 else { continue }  // already stored: its scores and rollups too
                    let evaluationID = db.lastInsertedRowID
                    for result in line.checkResults {
                        try insertCheck.execute(arguments: [evaluationID, result.name, result.kind, result.passed, result.detail])
                    }
                    for judge in line.judgeNames {
                        try enqueue.execute(arguments: [evaluationID, judge, at])
                        queued += 1
                    }
                    rollups.add(r, checks: line.checkResults)
                }
                try Self.addRollups(db, rollups)
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
            let c = batch.counts
            try Self.add(
                db,
                [
                    "lines_read": c.linesRead, "records": c.records, "malformed": c.malformed,
                    "sampled": c.sampled, "skipped_spans": c.skippedSpans, "blank_lines": c.blankLines,
                ])
            try db.execute(
                sql: "UPDATE spool_file SET offset = ?, updated_at = ? WHERE id = ?",
                arguments: [batch.newOffset, at, batch.fileID])
        }
    }

    /// Adds a batch's rollup deltas to the minute buckets; histograms merge inside SQLite
    /// (`evald_histogram_merge`), so each cell costs one statement.
    static func addRollups(_ db: Database, _ rollups: RollupBatch) throws {
        guard !rollups.isEmpty else { return }
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO rollup_minute (metric, route, model, minute, n, pass_n, sum, sum_sq, hist) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(metric, route, model, minute) DO UPDATE SET
                    n = n + excluded.n, pass_n = pass_n + excluded.pass_n, sum = sum + excluded.sum,
                    sum_sq = sum_sq + excluded.sum_sq, hist = evald_histogram_merge(hist, excluded.hist)
                """)
        for (key, cell) in rollups.cells {
            try upsert.execute(arguments: [
                key.metric, key.route, key.model, key.minute, cell.n, cell.passN,
                cell.sum, cell.sumSquares, cell.histogram?.serialized,
            ])
        }
        let upsertOperational = try db.cachedStatement(
            sql: """
                INSERT INTO rollup_op_minute (route, model, minute, calls, ok_calls, latency_n, latency_sum, latency_sq, latency_hist,
                    cost_n, cost_sum, cost_sq, tokens_n, tokens_sum, tokens_sq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(route, model, minute) DO UPDATE SET
                    calls = calls + excluded.calls, ok_calls = ok_calls + excluded.ok_calls,
                    latency_n = latency_n + excluded.latency_n, latency_sum = latency_sum + excluded.latency_sum,
                    latency_sq = latency_sq + excluded.latency_sq, latency_hist = evald_histogram_merge(latency_hist, excluded.latency_hist),
                    cost_n = cost_n + excluded.cost_n, cost_sum = cost_sum + excluded.cost_sum, cost_sq = cost_sq + excluded.cost_sq,
                    tokens_n = tokens_n + excluded.tokens_n, tokens_sum = tokens_sum + excluded.tokens_sum, tokens_sq = tokens_sq + excluded.tokens_sq
                """)
        for (key, op) in rollups.operational {
            try upsertOperational.execute(arguments: [
                key.route, key.model, key.minute, op.calls.n, op.calls.passN,
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
