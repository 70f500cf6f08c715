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

    /// Health alerts the store refused (a full disk), sent from memory.
    let unstored = UnstoredAlerts()

    public func run() async throws {
        await BlockingExecutor.shared.run {
            await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: .seconds(Self.interval)) } catch { break }
                    do { try self.evaluate() } catch {
                        self.logger.error("alerts.health_check_failed", metadata: ["error": "\(error)"])
                    }
                    await self.deliverUnstored()
                }
            }
        }
    }

    /// One round: fire the conditions that hold and have no open alert, resolve open alerts
    /// whose condition is gone.
    /// - Returns: how many alerts it fired.
    @discardableResult
    public func evaluate() throws -> Int {
        let setup = setups.current
        let builder = AlertBuilder(config: setup.config, receivers: setup.receivers)
        let at = now()
        return try AlertReconciler(store: store, builder: builder, logger: logger, unstored: unstored).reconcile(
            names: Self.names, wanted: try conditions(at: at, config: setup.config, builder: builder), at: at)
    }

    /// One attempt per receiver for each alert held in memory: its firing to the receivers that
    /// take its severity and have not taken it, its resolution to those that took the firing.
    public func deliverUnstored() async {
        guard !unstored.isEmpty else { return }
        let receivers = setups.current.receivers
        for entry in unstored.all {
            let alert = UnstoredAlerts.alert(entry)
            let fingerprint = entry.firing.fingerprint
            let targets =
                entry.resolvedAt == nil
                ? receivers.filter { $0.accepts(alert.severity) && !entry.heardFiring.contains($0.name) }
                : receivers.filter { entry.heardFiring.contains($0.name) && !entry.heardResolved.contains($0.name) }
            let event: AlertNotification.Event = entry.resolvedAt == nil ? .firing : .resolved
            for receiver in targets {
                do {
                    try await receiver.deliver(AlertNotification(alert: alert, event: event), now: now())
                    unstored.heard(fingerprint, receiver: receiver.name, event: event)
                    runtime.metrics.notificationsSent.increment()
                    logger.info(
                        "alerts.notification_sent",
                        metadata: ["receiver": "\(receiver.name)", "alertname": "\(alert.name)", "event": "\(event.rawValue)", "from": "memory"])
                } catch {
                    runtime.metrics.notificationsFailed.increment()
                    logger.warning(
                        "alerts.notification_failed",
                        metadata: ["receiver": "\(receiver.name)", "alertname": "\(alert.name)", "error": "\(error)", "from": "memory"])
                }
            }
            if entry.resolvedAt != nil, let current = unstored[fingerprint], current.heardResolved.isSuperset(of: current.heardFiring) {
                unstored.remove(fingerprint)
            }
        }
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
        let failure = runtime.pollFailure
        let stalledFor = at.timeIntervalSince(progress.lastLinesAt)
        // Bytes waiting with no line read, or polls failing all along (the backlog is then unknown).
        let failingFor = progress.failingSince.map { at.timeIntervalSince($0) } ?? 0
        if (progress.pendingBytes > 0 && stalledFor > config.alerts.spoolStalledAfter) || failingFor > config.alerts.spoolStalledAfter {
            let draft = HealthAlerts.spoolStalled(
                directory: config.spool.dir, pendingBytes: progress.pendingBytes, stalledFor: stalledFor, failingFor: failingFor,
                threshold: config.alerts.spoolStalledAfter, failure: failure?.reason)
            drafts.append((draft, []))
        }
        // Commits refused for a while (a full disk, a lock held), not for one busy moment.
        if let failure, failure.store, at.timeIntervalSince(failure.since) >= config.alerts.stateStoreFailingAfter {
            drafts.append(
                (
                    HealthAlerts.stateStoreWritesFailing(
                        path: store.path, reason: failure.reason, failingFor: at.timeIntervalSince(failure.since),
                        threshold: config.alerts.stateStoreFailingAfter), []
                ))
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
