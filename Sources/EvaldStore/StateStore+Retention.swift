import EvaldCore
import Foundation
import GRDB

/// How big the state database is.
public struct StorageSize: Sendable, Equatable {
    /// The database file (without its WAL) on disk: it follows a commit at the next checkpoint.
    public var fileBytes: Int64
    /// The database's size as of its last commit (pages times page size): the file's size after
    /// the next checkpoint.
    public var databaseBytes: Int64
    /// Pages in use: the file less its free pages.
    public var usedBytes: Int64
    public var freeBytes: Int64
    public var walBytes: Int64
}

extension StateStore {
    public func storageSize() throws -> StorageSize {
        let (pageSize, pages, free) = try read { db in
            (
                try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096, try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0,
                try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
            )
        }
        let file = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? pages * pageSize
        let wal = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int64) ?? 0
        return StorageSize(fileBytes: file, databaseBytes: pages * pageSize, usedBytes: (pages - free) * pageSize, freeBytes: free * pageSize, walBytes: wal)
    }

    /// Deletes at most `limit` of the oldest raw evaluations (by trace time) with their check
    /// results and verdicts, for `retention.max_db_bytes`; returns how many. Kept: the examples
    /// of open alerts (`evald explain` shows them), the evaluations of golden sets' traces,
    /// and those detection has not read yet; with `keepingQueued`, also those waiting for a judge
    /// or whose verdict detection has not read. Judgements dropped with their evaluation are
    /// counted (`judge_dropped_by_size`) in the same transaction. Rollups are never touched here. The deletion and
    /// its count (`pruned_by_size`) commit together.
    public func pruneOldestEvaluations(limit: Int, keepingTraceIDs keep: [String], keepingQueued: Bool = true) throws -> Int {
        try write { db in
            let placeholders = Array(repeating: "?", count: keep.count).joined(separator: ",")
            let keepFilter = keep.isEmpty ? "" : "AND trace_id NOT IN (\(placeholders))"
            var arguments: [(any DatabaseValueConvertible)?] = keep.map { TraceIDCoding.stored($0) }
            arguments.append(limit)
            let queuedFilter =
                keepingQueued
                ? "AND id NOT IN (SELECT evaluation_id FROM judge_queue) AND id NOT IN (SELECT evaluation_id FROM judge_feed)" : ""
            try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS pruned_by_size (id INTEGER PRIMARY KEY)")
            try db.execute(sql: "DELETE FROM pruned_by_size")
            try db.execute(
                sql: """
                    INSERT INTO pruned_by_size (id)
                        SELECT id FROM evaluation_data
                        WHERE id <= COALESCE((SELECT CAST(state_json AS INTEGER) FROM detection_state WHERE kind = 'cursor' AND key = 'evaluation'), 0)
                          AND id NOT IN (SELECT x.evaluation_id FROM alert_example x JOIN alert a ON a.id = x.alert_id WHERE a.state = 'firing')
                          \(queuedFilter)
                          \(keepFilter)
                        ORDER BY ts LIMIT ?
                    """, arguments: StatementArguments(arguments))
            let dropped = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM judge_queue WHERE evaluation_id IN (SELECT id FROM pruned_by_size)") ?? 0
            try db.execute(sql: "DELETE FROM evaluation_data WHERE id IN (SELECT id FROM pruned_by_size)")
            let deleted = db.changesCount
            try Self.add(db, ["pruned_by_size": Int64(deleted), "judge_dropped_by_size": dropped])
            return deleted
        }
    }

    /// Copies the WAL into the database file without waiting for readers (a passive
    /// checkpoint), so that pages given back by the incremental vacuum leave the file now.
    public func checkpoint() throws {
        do { try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.passive) } } catch let error as DatabaseError {
            throw StoreError(path: path, message: "checkpoint failed: \(error.message ?? error.description)")
        }
    }

    /// Gives up to `maxPages` free pages back to the file system (`PRAGMA incremental_vacuum`),
    /// in one short transaction; returns the free pages left.
    @discardableResult
    public func reclaimFreePages(maxPages: Int) throws -> Int64 {
        try write { db in
            try db.execute(sql: "PRAGMA incremental_vacuum(\(max(1, maxPages)))")
            return try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
        }
    }
}
