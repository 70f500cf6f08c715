import Dispatch

/// Runs CPU-heavy test work (long simulations, detector designs in a debug build) on a
/// dispatch queue instead of Swift's cooperative pool. On a 2-core machine the pool has two
/// threads: a test that computes for seconds on one of them starves every test awaiting a
/// timer or a reply beside it, which then fails timing checks it would pass alone. The work
/// stays in the test's task (a task executor preference), so its expectations are still
/// recorded against the test.
public func offPool<T: Sendable>(_ body: () throws -> T) async rethrows -> T {
    try await withTaskExecutorPreference(HeavyWorkExecutor.shared) { try body() }
}

final class HeavyWorkExecutor: TaskExecutor {
    static let shared = HeavyWorkExecutor()
    private let queue = DispatchQueue(label: "evald.test-heavy-work", attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Runs a whole test (an integration test that waits on child processes and sleeps between
/// polls) on the same dispatch-backed executor: its blocking waits then hold dispatch threads,
/// which grow as needed, instead of the cooperative pool's two.
public func onTestThreads<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
    try await withTaskExecutorPreference(HeavyWorkExecutor.shared) { try await body() }
}
