import Dispatch

/// Runs the stub servers' tasks on a dispatch queue of their own instead of Swift's shared
/// cooperative pool. Integration tests block pool threads while they wait for the `evald`
/// child process; on a 2-core machine that starved the stub, evald's judge timed out, and a
/// test's retry counts depended on the load of the machine.
final class StubExecutor: TaskExecutor {
    static let shared = StubExecutor()
    private let queue = DispatchQueue(label: "evald.stub-http", attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
