import EvaldCore
import Foundation
import Synchronization

/// Where a reader's batches are committed, one at a time and in order, on a serial queue of
/// their own.
///
/// Transactions back to back would hold SQLite's write lock all the time while a backlog is
/// read, and another process that writes (`evald replay`, a tool) waits in SQLite's busy
/// handler, which looks for the lock only now and then: it would find it free too seldom and
/// give up. So a commit starts no sooner than `writeLockGap` after the one before it ended.
final class CommitLane: Sendable {
    static let writeLockGap = Duration.milliseconds(3)

    let store: any SpoolCheckpointStore
    private let queue = DispatchQueue(label: "evald.spool-commit")
    private let lastEnded = Mutex<ContinuousClock.Instant?>(nil)

    init(store: any SpoolCheckpointStore) { self.store = store }

    /// Queues the batch's transaction after those already queued.
    func commit(_ batch: IngestBatch) -> PendingCommit {
        let pending = PendingCommit(batch)
        queue.async { [self] in
            if let previous = lastEnded.withLock({ $0 }) {
                let wait = previous + Self.writeLockGap - .now
                if wait > .zero { Thread.sleep(forTimeInterval: Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18) }
            }
            let result = Result<Void, any Error> { try store.commitBatch(batch) }
            lastEnded.withLock { $0 = .now }
            pending.end(result)
        }
        return pending
    }
}

/// A batch queued on a `CommitLane`, committed while the reader reads and processes the next
/// ones: the transaction (SQLite, the fsyncs of its checkpoints) overlaps the reading. The
/// reader applies a commit's effects (its offset, its counts) only once `wait()` says it is
/// durable.
final class PendingCommit: Sendable {
    let batch: IngestBatch
    private let finished = DispatchSemaphore(value: 0)
    private let outcome = Mutex<Result<Void, any Error>?>(nil)

    fileprivate init(_ batch: IngestBatch) { self.batch = batch }

    fileprivate func end(_ result: Result<Void, any Error>) {
        outcome.withLock { $0 = result }
        finished.signal()
    }

    /// Blocks until the transaction has ended; rethrows its error.
    func wait() throws {
        finished.wait()
        // A second wait() returns at once too.
        finished.signal()
        try outcome.withLock { $0 }!.get()
    }
}
