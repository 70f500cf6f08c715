import EvaldHTTP
import NIOConcurrencyHelpers

/// A counting semaphore for async code: `acquire` suspends (never blocks a thread) while
/// no permit is free; a cancelled waiter leaves the queue at once and throws.
/// Waiters are served first come, first served. The limit can change while permits are out
/// (the endpoint's adaptive concurrency): a lower limit takes effect as permits come back.
final class AsyncSemaphore: Sendable {
    private struct State {
        var limit: Int
        var inUse = 0
        var permits: Int { max(0, limit - inUse) }
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextID: UInt64 = 0
    }

    private let state: NIOLockedValueBox<State>

    init(permits: Int) {
        state = NIOLockedValueBox(State(limit: max(1, permits)))
    }

    func acquire() async throws(CancellationError) {
        let id: UInt64? = state.withLockedValue { state in
            if state.permits > 0, state.waiters.isEmpty {
                state.inUse += 1
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    // Under the lock, so a cancellation either sees this waiter queued or
                    // is seen here: the flag is set before the cancel handler runs.
                    let immediate: Result<Void, any Error>? = state.withLockedValue { state in
                        if Task.isCancelled { return .failure(CancellationError()) }
                        if state.permits > 0, state.waiters.isEmpty {
                            state.inUse += 1
                            return .success(())
                        }
                        state.waiters.append((id: id, continuation: continuation))
                        return nil
                    }
                    if let immediate { continuation.resume(with: immediate) }
                }
            } onCancel: {
                let continuation = state.withLockedValue { state -> CheckedContinuation<Void, any Error>? in
                    guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return state.waiters.remove(at: index).continuation
                }
                continuation?.resume(throwing: CancellationError())
            }
        } catch {
            throw CancellationError()
        }
    }

    /// Hands the permit to the longest waiter, or returns it to the pool (or, above a lowered
    /// limit, retires it).
    func release() {
        let next = state.withLockedValue { state -> [CheckedContinuation<Void, any Error>] in
            state.inUse -= 1
            return Self.admitWaiters(&state)
        }
        for continuation in next { continuation.resume() }
    }

    /// Sets the number of permits; waiters are admitted at once when it rises.
    func setLimit(_ limit: Int) {
        let next = state.withLockedValue { state -> [CheckedContinuation<Void, any Error>] in
            guard state.limit != max(1, limit) else { return [] }
            state.limit = max(1, limit)
            return Self.admitWaiters(&state)
        }
        for continuation in next { continuation.resume() }
    }

    private static func admitWaiters(_ state: inout State) -> [CheckedContinuation<Void, any Error>] {
        var admitted: [CheckedContinuation<Void, any Error>] = []
        while state.permits > 0, !state.waiters.isEmpty {
            state.inUse += 1
            admitted.append(state.waiters.removeFirst().continuation)
        }
        return admitted
    }

    /// Permits free right now (for tests and status).
    var availablePermits: Int { state.withLockedValue { $0.permits } }

    var limit: Int { state.withLockedValue { $0.limit } }

    /// Calls waiting in `acquire` (tests wait for a waiter to queue instead of sleeping).
    var waitingCount: Int { state.withLockedValue { $0.waiters.count } }
}
