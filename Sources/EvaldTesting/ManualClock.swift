import Foundation
import Synchronization

/// A clock tests move by hand, for windows, idle timers and retention.
public final class ManualClock: Sendable {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_795_860_000)) { current = Mutex(start) }

    public var now: Date { current.withLock { $0 } }

    public func advance(_ seconds: Double) { current.withLock { $0 += seconds } }

    public func advance(days: Double) { advance(days * 86400) }
}
