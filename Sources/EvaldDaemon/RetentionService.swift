import EvaldCore
import EvaldStore
import Foundation
import Logging
import ServiceLifecycle

/// Prunes raw evaluations (and quarantined lines) older than `retention.raw_days` and rollups
/// older than `retention.rollup_days`, in small batches with pauses between them so
/// that ingestion, which writes to the same database, never waits long.
public struct RetentionService: Service {
    public struct Pruned: Sendable, Equatable {
        public var evaluations = 0
        public var quarantined = 0
        public var rollups = 0
        public init() {}
    }

    let store: StateStore
    let retention: RetentionConfig
    let logger: Logger
    let now: @Sendable () -> Date
    let interval: Double
    let batchSize: Int
    let pause: Double

    public init(
        store: StateStore, retention: RetentionConfig, logger: Logger, now: @escaping @Sendable () -> Date = Date.init,
        interval: Double = 600, batchSize: Int = 500, pause: Double = 0.05
    ) {
        self.store = store
        self.retention = retention
        self.logger = logger
        self.now = now
        self.interval = interval
        self.batchSize = batchSize
        self.pause = pause
    }

    public func run() async throws {
        await BlockingExecutor.shared.run { await loop() }
    }

    private func loop() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let pruned = try await prune()
                    if pruned != Pruned() {
                        logger.info(
                            "retention.pruned",
                            metadata: ["evaluations": "\(pruned.evaluations)", "quarantined": "\(pruned.quarantined)", "rollups": "\(pruned.rollups)"])
                    }
                } catch is CancellationError {
                    break
                } catch {
                    logger.error("retention.failed", metadata: ["error": "\(error)"])
                }
                do { try await Task.sleep(for: .seconds(interval)) } catch { break }
            }
        }
    }

    /// One pass: everything past retention as of `now()`, batch by batch.
    public func prune() async throws -> Pruned {
        let clock = now()
        let rawCutoff = clock - Double(retention.rawDays) * 86400
        let rollupCutoff = clock - Double(retention.rollupDays) * 86400
        var pruned = Pruned()
        pruned.evaluations = try await drain { try store.pruneEvaluations(before: rawCutoff, limit: batchSize) }
        pruned.quarantined = try await drain { try store.pruneQuarantine(before: rawCutoff, limit: batchSize) }
        pruned.rollups = try await drain { try store.pruneRollups(before: rollupCutoff, limit: batchSize) }
        // Settled notifications are history after a day (Alertmanager re-posts add one a minute per firing alert).
        _ = try store.pruneOutbox(settledBefore: clock - 86400)
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
