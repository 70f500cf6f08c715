import Foundation
import Synchronization

/// A task executor over threads of its own, for test work that must not wait for Swift's
/// cooperative pool or hold it: the in-process stub servers, tests that block on child
/// processes, and long computations.
///
/// Not a dispatch queue: on Linux a concurrent `DispatchQueue` runs on libdispatch's
/// default-QoS root queue, the very threads (one per core) that run the cooperative pool, so
/// an executor over one was not off the pool at all: two property tests computing there
/// silenced every stub server and every test awaiting a reply. A job runs on an idle thread of
/// this executor, or on a new one while there are fewer than `maxThreads`; threads stay until
/// the process exits.
final class OwnThreadsExecutor: TaskExecutor {
    /// The stub servers' connections and handlers: they answer whatever the tests do.
    static let stubs = OwnThreadsExecutor(name: "evald.stub-http")
    /// `onTestThreads`: a blocked wait holds one of these threads and never holds up a job of
    /// another test, so there is no bound.
    static let waits = OwnThreadsExecutor(name: "evald.test-wait")
    /// `offPool`: pure computation, one thread per core, so the computing tests share the
    /// machine with the `evald` processes of the integration tests as they did on the pool.
    static let computation = OwnThreadsExecutor(
        name: "evald.test-cpu", maxThreads: max(1, ProcessInfo.processInfo.activeProcessorCount))

    private struct Jobs {
        var waiting: [UnownedJob] = []
        var threads = 0
        /// Threads that found no job and wait (or are about to wait) for a wakeup.
        var idleThreads = 0
    }

    private enum Runner { case idleThread, newThread, busyThread }

    private let name: String
    private let maxThreads: Int
    private let jobs = Mutex(Jobs())
    private let wakeups = DispatchSemaphore(value: 0)

    private init(name: String, maxThreads: Int = .max) {
        self.name = name
        self.maxThreads = maxThreads
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let runner = jobs.withLock { jobs -> Runner in
            jobs.waiting.append(job)
            if jobs.idleThreads > 0 {
                jobs.idleThreads -= 1
                return .idleThread
            }
            guard jobs.threads < maxThreads else { return .busyThread }
            jobs.threads += 1
            return .newThread
        }
        switch runner {
        case .idleThread: wakeups.signal()
        case .busyThread: break  // every thread takes the next job when it finishes its own
        case .newThread:
            // Named from inside: a Linux thread otherwise keeps the name of the thread that
            // started it (often libdispatch's), and gdb could not tell the pools apart.
            let name = name
            Thread.detachNewThread { [self] in
                Thread.current.name = name
                work()
            }
        }
    }

    private func work() {
        while true {
            let next = jobs.withLock { jobs -> UnownedJob? in
                guard !jobs.waiting.isEmpty else {
                    jobs.idleThreads += 1
                    return nil
                }
                return jobs.waiting.removeFirst()
            }
            guard let next else {
                wakeups.wait()
                continue
            }
            next.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
