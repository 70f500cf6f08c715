import Foundation

/// A value behind a lock, for small shared state: a client's breaker and semaphore, the
/// daemon's stop flag, the stub servers' recorders.
/// NSLock rather than `Mutex` because the package still builds for macOS 14.
public final class LockedValue<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
