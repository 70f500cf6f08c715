import EvaldCore
import EvaldStore
import Foundation
import Logging
import ServiceLifecycle

/// Prunes raw evaluations (and quarantined lines) older than `retention.raw_days` and rollups
/// older than `retention.rollup_days`, in small batches with pauses between them so
/// that ingestion, which writes to the same database, never waits long. With
/// `retention.max_db_bytes` it also keeps the database file under that size: the oldest raw
/// evaluations go first (never an open alert's examples, a golden set's traces, or rollups),
/// and the freed pages go back to the file system a few megabytes at a time.
public struct RetentionService: Service {
    public struct Pruned: Sendable, Equatable {
        public var evaluations = 0
        public var quarantined = 0
        public var rollups = 0
        /// Raw evaluations pruned for `max_db_bytes`.
        public var bySize = 0
        public init() {}
    }

    /// The size check's outcome, for `StateStoreFailing`.
    public struct SizeCheck: Sendable, Equatable {
        public var fileBytes: Int64
        public var limit: Int64
        /// Still over the limit after pruning what may be pruned.
        public var overLimit: Bool

        public init(fileBytes: Int64, limit: Int64, overLimit: Bool) {
            self.fileBytes = fileBytes
            self.limit = limit
            self.overLimit = overLimit
        }
    }

    /// Pruning by size stops at this share of the limit, so a round frees room for a while.
    static let lowWater = 0.9
    /// Pages given back per step of the incremental vacuum (8 MiB at 4 KiB pages).
    static let vacuumStep = 2048
    /// How often the size is checked against max_db_bytes (a read of two pragmas): a backlog
    /// read at thousands of evaluations per second grows the file by about 1 MB in this time.
    static let sizeInterval = 2.0

    let store: StateStore
    let retention: RetentionConfig
    let logger: Logger
    let now: @Sendable () -> Date
    let interval: Double
    let batchSize: Int
    let pause: Double
    /// The traces golden sets refer to (kept however old).
    let goldenTraceIDs: @Sendable () -> [String]
    let report: @Sendable (SizeCheck) -> Void

    public init(
        store: StateStore, retention: RetentionConfig, logger: Logger, now: @escaping @Sendable () -> Date = Date.init,
        interval: Double? = nil, batchSize: Int = 500, pause: Double = 0.05,
        goldenTraceIDs: @escaping @Sendable () -> [String] = { [] }, report: @escaping @Sendable (SizeCheck) -> Void = { _ in }
    ) {
        self.store = store
        self.retention = retention
        self.logger = logger
        self.now = now
        self.interval = interval ?? 600
        self.batchSize = batchSize
        self.pause = pause
        self.goldenTraceIDs = goldenTraceIDs
        self.report = report
    }

    public func run() async throws {
        await BlockingExecutor.shared.run { await loop() }
    }

    private func loop() async {
        await cancelWhenGracefulShutdown {
            var agePrunedAt: Date?
            while !Task.isCancelled {
                do {
                    var pruned = Pruned()
                    if agePrunedAt.map({ now().timeIntervalSince($0) >= interval }) ?? true {
                        agePrunedAt = now()
                        pruned = try await pruneByAge()
                    }
                    if let limit = retention.maxDBBytes { pruned.bySize = try await pruneBySize(limit: limit) }
                    if pruned != Pruned() {
                        logger.info(
                            "retention.pruned",
                            metadata: [
                                "evaluations": "\(pruned.evaluations)", "quarantined": "\(pruned.quarantined)", "rollups": "\(pruned.rollups)",
                                "by_size": "\(pruned.bySize)",
                            ])
                    }
                } catch is CancellationError {
                    break
                } catch {
                    logger.error("retention.failed", metadata: ["error": "\(error)"])
                }
                let wait = retention.maxDBBytes == nil ? interval : min(interval, Self.sizeInterval)
                do { try await Task.sleep(for: .seconds(wait)) } catch { break }
            }
        }
    }

    /// One pass: everything past retention as of `now()`, batch by batch, then the size limit.
    public func prune() async throws -> Pruned {
        var pruned = try await pruneByAge()
        if let limit = retention.maxDBBytes {
            pruned.bySize = try await pruneBySize(limit: limit)
        }
        return pruned
    }

    /// Everything past `raw_days` and `rollup_days` as of `now()`.
    func pruneByAge() async throws -> Pruned {
        let clock = now()
        let rawCutoff = clock - Double(retention.rawDays) * 86400
        let rollupCutoff = clock - Double(retention.rollupDays) * 86400
        var pruned = Pruned()
        pruned.evaluations = try await drain { try store.pruneEvaluations(before: rawCutoff, limit: batchSize) }
        pruned.quarantined = try await drain { try store.pruneQuarantine(before: rawCutoff, limit: batchSize) }
        _ = try await drain { try store.pruneFeedback(before: rawCutoff, limit: batchSize) }
        pruned.rollups = try await drain { try store.pruneRollups(before: rollupCutoff, limit: batchSize) }
        // Settled notifications are history after a day (Alertmanager re-posts add one a minute per firing alert).
        _ = try store.pruneOutbox(settledBefore: clock - 86400)
        // Sent reports are history after 30 days (each holds its whole JSON and markdown).
        try store.pruneReportOutbox(settledBefore: clock - 30 * 86400)
        return pruned
    }

    /// Keeps the file under `limit`: prunes the oldest raw evaluations until the pages in use
    /// are below 90% of it, then gives the free pages back. Reports whether it stayed over.
    func pruneBySize(limit: Int64) async throws -> Int {
        var size = try store.storageSize()
        var pruned = 0
        let lowWater = Int64(Double(limit) * Self.lowWater)
        if size.usedBytes > lowWater {
            let keep = goldenTraceIDs()
            while size.usedBytes > lowWater {
                try Task.checkCancellation()
                // Traces waiting for a judge go last: only when nothing else is left to prune
                // (a judge far behind ingest), and then counted as dropped.
                var count = try store.pruneOldestEvaluations(limit: batchSize, keepingTraceIDs: keep)
                if count == 0 { count = try store.pruneOldestEvaluations(limit: batchSize, keepingTraceIDs: keep, keepingQueued: false) }
                pruned += count
                size = try store.storageSize()
                guard count > 0 else { break }
                try await Task.sleep(for: .seconds(pause))
            }
        }
        // Free pages (from this round, age pruning or a drained queue) go back in short steps;
        // in WAL mode the file shrinks at the checkpoint after them.
        var vacuumed = false
        while size.freeBytes > 0 && size.databaseBytes > lowWater {
            try Task.checkCancellation()
            let left = try store.reclaimFreePages(maxPages: Self.vacuumStep)
            vacuumed = true
            size = try store.storageSize()
            if left == 0 { break }
            try await Task.sleep(for: .seconds(pause))
        }
        if vacuumed {
            try store.checkpoint()
            size = try store.storageSize()
        }
        let check = SizeCheck(fileBytes: size.databaseBytes, limit: limit, overLimit: size.databaseBytes > limit)
        if check.overLimit {
            logger.warning(
                "retention.over_limit",
                metadata: ["db.bytes": "\(size.databaseBytes)", "db.used_bytes": "\(size.usedBytes)", "retention.max_db_bytes": "\(limit)"])
        }
        report(check)
        return pruned
    }

    private func drain(_ batch: () throws -> Int) async throws -> Int {
        var total = 0
        while true {
            try Task.checkCancellation()
            let count = try batch()
            total += count
            guard count == batchSize else { return total }
            try await Task.sleep(for: .seconds(pause))
        }
    }
}
