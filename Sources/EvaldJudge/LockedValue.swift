import Foundation

/// A value behind a lock, for the little shared state of a client (breaker, semaphore).
/// NSLock rather than `Mutex` because the package still builds for macOS 14.
final class LockedValue<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
