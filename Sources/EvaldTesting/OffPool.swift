/// Runs CPU-heavy test work (long simulations, detector designs in a debug build) on threads
/// of its own (`OwnThreadsExecutor.computation`) instead of Swift's cooperative pool. On a
/// 2-core machine the pool has two threads: a test that computes for seconds on one of them
/// starves every test awaiting a timer or a reply beside it, which then fails timing checks it
/// would pass alone. The work stays in the test's task (a task executor preference), so its
/// expectations are still recorded against the test.
public func offPool<T: Sendable>(_ body: () throws -> T) async rethrows -> T {
    try await withTaskExecutorPreference(OwnThreadsExecutor.computation) { try body() }
}

/// Runs a whole test (an integration test that waits on child processes and sleeps between
/// polls) on threads of its own (`OwnThreadsExecutor.waits`): its blocking waits then hold
/// those threads, which grow as needed, instead of the cooperative pool's two.
public func onTestThreads<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
    try await withTaskExecutorPreference(OwnThreadsExecutor.waits) { try await body() }
}

/// An unstructured task on the test threads (`OwnThreadsExecutor.waits`). `Task { }` does not
/// inherit a task executor preference: inside `onTestThreads` it still runs on the cooperative
/// pool, where at the start of a run it can wait tens of seconds behind the queue of tests
/// being started, and a test that waits for it with a deadline fails.
@discardableResult
public func testTask<T: Sendable>(_ body: sending @escaping () async -> T) -> Task<T, Never> {
    Task(executorPreference: OwnThreadsExecutor.waits, operation: body)
}
