import Foundation

/// A clock tests move by hand, for windows, idle timers and retention.
public final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    public init(_ start: Date = Date(timeIntervalSince1970: 1_795_860_000)) { current = start }

    public var now: Date { lock.withLock { current } }

    public func advance(_ seconds: Double) { lock.withLock { current += seconds } }

    public func advance(days: Double) { advance(days * 86400) }
}
