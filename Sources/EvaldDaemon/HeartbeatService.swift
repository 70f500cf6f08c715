import EvaldCore
import EvaldStore
import Foundation
import Logging
import ServiceLifecycle

/// Writes the daemon's heartbeat so `evald status` can tell a live daemon from a dead one.
public struct HeartbeatService: Service {
    public static let interval = DaemonHeartbeat.interval

    let store: StateStore
    let logger: Logger
    let startedAt = Date()

    public init(store: StateStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    public func run() async throws {
        let pid = ProcessInfo.processInfo.processIdentifier
        let host = ProcessInfo.processInfo.hostName
        await BlockingExecutor.shared.run {
            await cancelWhenGracefulShutdown {
                var beats = 0
                while !Task.isCancelled {
                    beats += 1
                    // About once a minute: give freed memory back (MemoryHygiene).
                    if beats % 30 == 0 { MemoryHygiene.trim() }
                    do {
                        try store.recordHeartbeat(pid: pid, hostname: host, startedAt: startedAt, at: Date(), version: EvaldVersion.current)
                    } catch {
                        logger.error("heartbeat.write_failed", metadata: ["error": "\(error)"])
                    }
                    do { try await Task.sleep(for: .seconds(Self.interval)) } catch { break }
                }
            }
            try? store.recordStop(pid: pid, at: Date())
        }
    }
}
