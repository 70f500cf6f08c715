import Foundation
import Logging
import ServiceLifecycle

/// The loop of a service that works in rounds with the alert setup in force (health alerts,
/// detection): sleep `interval`, take a setup a reload offered, do a round; a failed round is
/// logged and the next one tries again. Ends at graceful shutdown.
func runPeriodically(every interval: Double, runtime: DaemonRuntime, logger: Logger, failure: Logger.Message,
                     metadata: Logger.Metadata = [:], apply: @escaping @Sendable (AlertSetup) -> Void,
                     round: @escaping @Sendable () throws -> Void) async {
    await cancelWhenGracefulShutdown {
        var version = 0
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(interval)) } catch { break }
            if let (newer, setup) = runtime.alertSetup(newerThan: version) {
                version = newer
                apply(setup)
            }
            do {
                try round()
            } catch {
                logger.error(failure, metadata: metadata.merging(["error": "\(error)"]) { _, new in new })
            }
        }
    }
}
