import EvaldCore
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Threads of ingest's own that process the parts of a long read, at a lower scheduling
/// priority (nice +5) than the rest of the daemon.
///
/// Why not `DispatchQueue.concurrentPerform`: on Linux its threads are libdispatch's default
/// ones, which are also Swift's cooperative pool, so a catch-up would hold the pool that
/// detection, /healthz and the judges run on. And at equal priority the processing threads
/// took most of the CPU from the one thread that commits batches (SQLite is one writer), the
/// step everything else waits for: the commit's share of the CPU set ingest's pace. At nice +5
/// the committing thread and the daemon's services come first, and the workers take what is
/// left. (The same holds against other processes on the machine: a backlog is read with the
/// CPU the application does not need.)
final class IngestWorkers: Sendable {
    let width: Int
    private let shared: Shared

    /// Spawns `width` threads named `name-0`, `name-1`..., parked until there is work; they
    /// end when this is released.
    init(width: Int, niceness: Int32 = 5, name: String = "evald-ingest") {
        self.width = width
        shared = Shared()
        for index in 0..<width {
            let shared = self.shared
            let threadName = "\(name)-\(index)"
            let thread = Thread {
                // Named from inside: on Linux a name set before `start()` does not reach the
                // system thread (`top -H`, /proc/PID/task/*/comm show it).
                Thread.current.name = threadName
                #if os(Linux)
                    // On Linux the nice value is per thread: this sets the calling thread's only.
                    // Raising one's own niceness needs no privilege.
                    _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
                #endif
                shared.work()
            }
            thread.start()
        }
    }

    deinit {
        shared.stop(threads: width)
    }

    /// Runs `body` for each index in `0..<count` on the worker threads and returns when every
    /// one has run. Each call gets the scratch of the thread it runs on.
    func perform(_ count: Int, _ body: @escaping @Sendable (Int, IngestScratch) -> Void) {
        submit(count, body).wait()
    }

    /// Queues `body` for each index in `0..<count`, after the jobs already queued, and returns
    /// at once: the caller reads its next chunk while the threads work through this one.
    /// `wait()` on the result returns when every index has run.
    func submit(_ count: Int, _ body: @escaping @Sendable (Int, IngestScratch) -> Void) -> Completion {
        let done = DispatchSemaphore(value: 0)
        guard count > 0 else {
            done.signal()
            return Completion(done: done)
        }
        shared.post(Job(body: body, count: count, done: done), wakeThreads: min(count, width))
        return Completion(done: done)
    }

    /// The end of a submitted job.
    struct Completion: Sendable {
        fileprivate let done: DispatchSemaphore

        /// Returns when every index of the job has run; once per job.
        func wait() { done.wait() }
    }

    /// Fills `buffer` from `fd` at `offset` with one `pread` per thread, each into its own
    /// slice: copying out of the page cache is a tenth of a long read's work, and done by the
    /// reading thread alone it left the other cores idle meanwhile. Returns what one `pread` of
    /// the whole buffer would: the bytes read from `offset` on (fewer at the end of the file),
    /// or -1 with `errno` set.
    func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) -> Int {
        let slice = (buffer.count + width - 1) / width
        let results = Mutex([(count: Int, error: Int32)](repeating: (0, 0), count: width))
        // The buffer outlives `perform`, which returns only when every slice is read, and the
        // slices do not overlap: each thread writes its own bytes only.
        let address = UInt(bitPattern: buffer.baseAddress)
        let total = buffer.count
        perform(width) { index, _ in
            let start = index * slice
            let length = max(0, min(slice, total - start))
            guard length > 0, let base = UnsafeMutableRawPointer(bitPattern: address) else { return }
            let count = pread(fd, base + start, length, off_t(offset) + off_t(start))
            let error = count < 0 ? errno : 0
            results.withLock { $0[index] = (count, error) }
        }
        var read = 0
        for (index, result) in results.withLock({ $0 }).enumerated() {
            if result.count < 0 {
                errno = result.error
                return read > 0 ? read : -1
            }
            read += result.count
            // A short slice is the end of the file: later slices hold nothing that follows it.
            if result.count < min(slice, total - index * slice) { break }
        }
        return read
    }

    private struct Job: Sendable {
        let body: @Sendable (Int, IngestScratch) -> Void
        let count: Int
        let done: DispatchSemaphore
    }

    private final class Shared: Sendable {
        private struct Queued {
            let id: Int
            let job: Job
            var next = 0
            var finished = 0
        }

        private struct State {
            /// In the order submitted; a job leaves when its last index has run.
            var jobs: [Queued] = []
            var nextID = 0
            var stopping = false
        }

        private let state = Mutex(State())
        private let wake = DispatchSemaphore(value: 0)

        func post(_ job: Job, wakeThreads: Int) {
            state.withLock { state in
                state.jobs.append(Queued(id: state.nextID, job: job))
                state.nextID += 1
            }
            for _ in 0..<wakeThreads { wake.signal() }
        }

        func stop(threads: Int) {
            state.withLock { $0.stopping = true }
            for _ in 0..<threads { wake.signal() }
        }

        /// A thread's life: wait to be woken, take indices of the queued jobs, oldest first,
        /// until none is left, again.
        func work() {
            let scratch = IngestScratch()
            while true {
                wake.wait()
                while let (id, job, index) = claim() {
                    job.body(index, scratch)
                    finish(id)
                }
                if state.withLock({ $0.stopping }) { return }
            }
        }

        private func claim() -> (Int, Job, Int)? {
            state.withLock { state in
                guard let position = state.jobs.firstIndex(where: { $0.next < $0.job.count }) else { return nil }
                defer { state.jobs[position].next += 1 }
                return (state.jobs[position].id, state.jobs[position].job, state.jobs[position].next)
            }
        }

        private func finish(_ id: Int) {
            let ended = state.withLock { state -> Job? in
                guard let position = state.jobs.firstIndex(where: { $0.id == id }) else { return nil }
                state.jobs[position].finished += 1
                guard state.jobs[position].finished == state.jobs[position].job.count else { return nil }
                return state.jobs.remove(at: position).job
            }
            ended?.done.signal()
        }
    }
}

/// What a thread processing spool lines keeps from one part to the next (a part is about half a
/// MiB): made and used on that one thread.
final class IngestScratch {
    /// The failed calls' compressor, made when the thread meets its first failed call.
    private(set) lazy var deflater = RecordDeflater()
}
