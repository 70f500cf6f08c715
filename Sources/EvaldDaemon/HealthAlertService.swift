import EvaldAlerting
import EvaldCore
import EvaldStore
import Foundation
import Logging
import ServiceLifecycle

/// The alerts evald raises about itself: `JudgeFailing`, `JudgeBudgetExhausted`,
/// `SpoolStalled`, `StateStoreFailing`. Every few seconds it compares the conditions with the open alerts of these
/// names, fires what is new and resolves what has cleared; the outbox does the rest.
public struct HealthAlertService: Service {
    public static let names: Set<String> = ["JudgeFailing", "JudgeBudgetExhausted", "SpoolStalled", "StateStoreFailing"]
    /// JudgeFailing: at least this share of judge errors among at least `minVerdicts` verdicts
    /// in the last `window` (or the endpoint's circuit open).
    static let errorRateThreshold = 0.5
    static let minVerdicts = 10
    static let window = 900.0
    static let interval = 5.0
    /// StateStoreFailing: the database stayed over retention.max_db_bytes this long.
    static let overLimitFor = 60.0

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
        let service = self
        await runPeriodically(
            every: Self.interval, setups: setups, logger: logger, failure: "alerts.health_check_failed",
            makeState: { _ in () },
            round: { _ in
                try service.evaluate(); return false
            })
    }

    /// One round: fire the conditions that hold and have no open alert, resolve open alerts
    /// whose condition is gone.
    /// - Returns: how many alerts it fired.
    @discardableResult
    public func evaluate() throws -> Int {
        let setup = setups.current
        let builder = AlertBuilder(config: setup.config, receivers: setup.receivers)
        let at = now()
        return try AlertReconciler(store: store, builder: builder, logger: logger)
            .reconcile(names: Self.names, wanted: try conditions(at: at, config: setup.config, builder: builder), at: at)
    }

    func conditions(at: Date, config: EvaldConfig, builder: AlertBuilder) throws -> [AlertFiring] {
        var drafts: [(HealthAlerts.Draft, examples: [Int64])] = []
        let outcomes = try store.judgeOutcomesByJudge(since: at - Self.window)
        let kinds = try store.judgeErrorKindsByJudge(since: at - Self.window)
        for health in runtime.currentJudgeStates {
            let counts = outcomes[health.judgeName] ?? (0, 0)
            let rate = counts.judged > 0 ? Double(counts.errors) / Double(counts.judged) : 0
            // Half-open counts too: the endpoint is not known to be back until a call succeeds,
            // and resolving in between would flap the alert at every trial.
            let circuitOpen = health.state.circuitNotClosed
            var degradedReason: String?
            if case .degraded(let reason) = health.state { degradedReason = reason }
            if circuitOpen || degradedReason != nil || (counts.judged >= Self.minVerdicts && rate >= Self.errorRateThreshold) {
                let examples = try store.recentJudgeErrorEvaluations(judgeName: health.judgeName, since: at - Self.window, limit: 5)
                let draft = HealthAlerts.judgeFailing(
                    judge: health.judgeName, identity: health.identity, endpoint: health.endpoint, judged: counts.judged,
                    errors: counts.errors, errorKinds: kinds[health.judgeName] ?? [:], windowMinutes: Int(Self.window / 60),
                    threshold: Self.errorRateThreshold, minVerdicts: Self.minVerdicts,
                    circuitReason: circuitOpen ? (health.state.reason ?? "circuit open") : nil, degradedReason: degradedReason,
                    lastFailure: health.endpointHealth?.lastFailure)
                drafts.append((draft, examples))
            }
            if case .paused(.budgetSpent(let endpoint, let budget)) = health.state {
                let used = try store.tokensUsed(endpoint: endpoint, on: at)
                drafts.append((HealthAlerts.budgetExhausted(endpoint: endpoint, used: used, budget: budget), []))
            }
        }
        let progress = runtime.spoolProgress
        let stalledFor = at.timeIntervalSince(progress.lastLinesAt)
        // Bytes waiting with no line read, or polls failing all along (the backlog is then unknown).
        let failingFor = progress.failingSince.map { at.timeIntervalSince($0) } ?? 0
        if (progress.pendingBytes > 0 && stalledFor > config.alerts.spoolStalledAfter) || failingFor > config.alerts.spoolStalledAfter {
            let draft = HealthAlerts.spoolStalled(
                directory: config.spool.dir, pendingBytes: progress.pendingBytes, stalledFor: stalledFor, failingFor: failingFor,
                threshold: config.alerts.spoolStalledAfter)
            drafts.append((draft, []))
        }
        // Over the limit for a while, not for the moment a burst or a detection backlog (whose
        // evaluations wait to be read) takes.
        if let size = runtime.lastSizeCheck, let since = size.overLimitSince, at.timeIntervalSince(since) >= Self.overLimitFor {
            drafts.append((HealthAlerts.stateStoreFailing(path: store.path, fileBytes: size.check.fileBytes, limit: size.check.limit), []))
        }
        return drafts.map { draft, examples in
            builder.firing(
                draft.name, draft.severity, labels: draft.labels, summary: draft.summary, description: draft.description,
                numbers: draft.numbers, examples: examples)
        }
    }
}
