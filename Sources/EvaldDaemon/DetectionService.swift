import EvaldCore
import EvaldStore
import Foundation
import Logging
import ServiceLifecycle

/// The detection loop: every 2 s, `DetectionEngine` rounds on the setup in force, then the
/// raised sampling rates. A backlog is worked through in slices of `batchesPerTick` batches
/// with no sleep between them, so a reload or a shutdown is seen within one slice. The engine
/// is the loop's own state, on the blocking executor: a long catch-up never holds a
/// cooperative thread.
public struct DetectionService: Service {
    static let interval = 2.0
    static let batchesPerTick = 10

    let store: StateStore
    let setups: SetupSource
    let runtime: DaemonRuntime
    let logger: Logger
    let now: @Sendable () -> Date

    public init(
        store: StateStore, setups: SetupSource, runtime: DaemonRuntime, logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.setups = setups
        self.runtime = runtime
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        let (store, runtime, logger, now) = (store, runtime, logger, now)
        await runPeriodically(
            every: Self.interval, setups: setups, logger: logger, failure: "detection.round_failed",
            metadata: ["action": "retrying from the last committed state"],
            makeState: { setup in DetectionEngine(store: store, setup: setup, runtime: runtime, logger: logger, now: now) },
            apply: { engine, setup in engine.apply(setup) },
            round: { engine in
                var full = 0, fed = 0
                for _ in 0..<Self.batchesPerTick where !Task.isCancelled {
                    guard let summary = try engine.round() else { break }
                    runtime.metrics.recordDetection(summary)
                    full += 1
                    fed += summary.evaluations
                }
                // A slice that stopped mid-backlog leaves nothing uncommitted between ticks.
                try engine.flush()
                try engine.publishRaisedRates()
                // Every batch of the slice was taken: more is waiting.
                let more = full == Self.batchesPerTick
                engine.noteBacklog(fed: fed, more: more)
                return more
            })
    }
}
