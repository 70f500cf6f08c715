import NIOPosix

/// Where evald's blocking and CPU-heavy work runs: spool reads, every SQLite transaction,
/// detector design and catch-up, report building. A task executor over a pool of dedicated
/// threads, so Swift's cooperative pool (two threads on a 2-core machine) stays free for
/// what must answer promptly whatever the load: `/healthz`, `/metrics`, the watchdog, signals
/// and shutdown.
///
/// A service runs its loop inside `run { ... }` (a task executor preference, SE-0417): the
/// loop's synchronous code, its child tasks and the actors it calls run on these threads,
/// and an `await` that suspends gives the thread back.
public final class BlockingExecutor: TaskExecutor {
    /// One thread per loop that may block at the same time (ingest, judges, detection, health
    /// alerts, delivery, retention, canary, heartbeat) plus room for HTTP report builds: a
    /// blocked loop never waits for another one's thread.
    public static let threadCount = 12

    /// The process's executor. Never shut down: it serves until the process exits, so no job
    /// can ever be refused (a refused job would hang its task).
    public static let shared = BlockingExecutor(threads: threadCount)

    private let pool: NIOThreadPool

    init(threads: Int) {
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pool.submit { _ in
            // Run even when the pool reports itself cancelled: a job must never be dropped.
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }

    /// Runs `body` with this executor preferred for it and every child task it starts.
    public func run<T>(_ body: () async throws -> T) async rethrows -> T {
        try await withTaskExecutorPreference(self) { try await body() }
    }
}
