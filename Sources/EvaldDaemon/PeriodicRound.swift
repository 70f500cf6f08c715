import Foundation
import Logging
import ServiceLifecycle

/// The loop of a service that works in rounds on the setup in force (health alerts,
/// detection): sleep `interval`, apply a setup a reload published, do a round; a round that
/// says more work is waiting (a backlog) is followed at once by the next, without the sleep.
/// A failed round is logged and the next one tries again. The loop and its state (made by
/// `makeState`, owned by the loop alone) run on the blocking executor. Ends at graceful
/// shutdown.
func runPeriodically<State>(
    every interval: Double, setups: SetupSource, logger: Logger, failure: Logger.Message,
    metadata: Logger.Metadata = [:],
    makeState: @escaping @Sendable (DaemonSetup) -> State,
    apply: @escaping @Sendable (State, DaemonSetup) -> Void = { _, _ in },
    round: @escaping @Sendable (State) throws -> Bool
) async {
    await BlockingExecutor.shared.run {
        await cancelWhenGracefulShutdown {
            var setup = setups.current
            let state = makeState(setup)
            var more = false
            while !Task.isCancelled {
                if !more {
                    do { try await Task.sleep(for: .seconds(interval)) } catch { break }
                }
                let latest = setups.current
                if latest.version != setup.version {
                    setup = latest
                    apply(state, setup)
                }
                do {
                    more = try round(state)
                } catch {
                    more = false
                    logger.error(failure, metadata: metadata.merging(["error": "\(error)"]) { _, new in new })
                }
            }
        }
    }
}
