import EvaldAlerting
import EvaldCore
import EvaldStore
import Foundation
import Logging
import ServiceLifecycle

/// Detection: reads what ingest and the judges committed, in commit order, feeds
/// every series' monitor and every (route, model)'s provider-version watch, and turns their
/// findings into alerts. The state, the cursors and the alerts of a round are written in one
/// transaction, so kill -9 at any moment redoes the round from the last state: no outcome is
/// lost or counted twice, and no alert fires twice.
///
/// Not Sendable: one task owns it (the `DetectionService` loop, or `evald run --once`), and
/// it runs on the blocking executor (its rounds read and write SQLite and design detectors).
public final class DetectionEngine {
    /// Evaluations read per round.
    static let batchSize = 10_000
    /// Usage cells read per round: each holds a minute's calls of a (route, model).
    static let usageBatchSize = 1_000
    /// Evaluations fed between commits while catching up: every series fed since the last
    /// commit is encoded and written once, so a long stretch amortises that over more samples;
    /// a crash redoes at most this much. Caught up (a batch short of full), with alerts to
    /// deliver, or at `flush()`, a round commits at once.
    static let commitEvery = 50_000
    static let seriesKind = DetectionStateCodec.seriesKind
    static let versionsKind = DetectionStateCodec.versionsKind
    static let changesKind = DetectionStateCodec.changesKind
    static let cursorKind = DetectionStateCodec.cursorKind
    /// A judge version switch's JudgeDrift decision: `rechecking`, then a `JudgeRecheckTest.State`.
    static let judgeSwitchKind = "judge_switch"

    public struct RoundSummary: Sendable, Equatable {
        public var evaluations = 0
        /// Calls fed to the operational series from the usage journal (every call, sampled or not).
        public var calls: Int64 = 0
        public var judgeScores = 0
        public var fired = 0
        /// Detector designs made (thresholds searched) and the time they took.
        public var designs = 0
        public var designSeconds = 0.0
        /// Evaluations committed but not yet fed (a `--once` catch-up that hit its deadline).
        public var remaining = 0
        /// Calls in the usage journal not yet fed to the operational series (the same).
        public var remainingCalls: Int64 = 0

        public init() {}

        mutating func add(_ other: RoundSummary) {
            evaluations += other.evaluations
            calls += other.calls
            judgeScores += other.judgeScores
            fired += other.fired
            designs += other.designs
            designSeconds += other.designSeconds
        }
    }

    private let store: StateStore
    private var config: EvaldConfig
    private var receivers: [any AlertReceiver]
    private var judgeSeries: [String: JudgeSeriesInfo] = [:]
    private let runtime: DaemonRuntime
    private let logger: Logger
    private let now: @Sendable () -> Date

    private var loaded = false
    private var monitors = SeriesMonitorTable()
    private var watches: [String: ProviderVersionWatch] = [:]
    /// The team's changes, per dimension and route (key `prompt_version|ROUTE`, `model|ROUTE`).
    private var changeWatches: [String: ChangeWatch] = [:]
    /// What has been fed; the database holds what was committed (at most `commitEvery` behind).
    public private(set) var evaluationCursor: Int64 = 0
    private var judgeCursor: Int64 = 0
    /// The last feedback row fed.
    private var feedbackCursor: Int64 = 0
    /// The last usage cell fed (`usage_feed`): the `op:` series come from every call.
    private var usageCursor: Int64 = 0
    /// The last judge version switch applied (its judge's series restarted).
    private var judgeSwitchCursor: Int64 = 0
    /// Switches whose rechecks are not all in yet: JudgeDrift is decided once they are.
    private var undecidedSwitches: [Int64: JudgeSwitch] = [:]
    private var dirtySwitches: [Int64: String] = [:]
    private var uncommittedEvaluations = 0
    private var uncommitted = false
    /// What the database held when detection was installed (migration v5): replayed to build
    /// baselines, but its findings are history, not news, and are not notified.
    private var warmupEvaluation: Int64 = 0
    private var warmupJudgeFeed: Int64 = 0
    /// Series with a sample in the last baseline window: the k that shares the budget.
    private var activeSeries = 1
    private var replaying = false
    // What the next commit writes.
    private var dirtyWatches: Set<String> = []
    private var dirtyChanges: Set<String> = []
    private var actions: [DetectionAlertAction] = []
    // One round's work.
    private var designs = 0
    private var designSeconds = 0.0
    private var alertBuilder: AlertBuilder { AlertBuilder(config: config, receivers: receivers) }
    private var trafficCheckedAt = Date.distantPast
    private var floorRates: [String: Double] = [:]

    /// What detection needs to know of each judge: its floor and whether its scores are 1-5.
    struct JudgeSeriesInfo: Sendable, Equatable {
        var minPassRate: Double?
        var scoresOneToFive: Bool
    }

    public init(
        store: StateStore, setup: DaemonSetup, runtime: DaemonRuntime, logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.config = setup.config
        self.receivers = setup.receivers
        self.runtime = runtime
        self.logger = logger
        self.now = now
        apply(setup)
    }

    /// Takes a reloaded setup: floors, checks, judges and receivers may have changed, so the
    /// state is loaded again and reconciled before the next round.
    public func apply(_ setup: DaemonSetup) {
        config = setup.config
        receivers = setup.receivers
        judgeSeries = Dictionary(
            setup.roster.members.map {
                ($0.rubric.name, JudgeSeriesInfo(minPassRate: $0.rubric.minPassRate, scoresOneToFive: $0.rubric.scale == .numeric(min: 1, max: 5)))
            }, uniquingKeysWith: { a, _ in a })
        loaded = false
    }

    /// Runs rounds until everything committed so far is consumed, or until `deadline`
    /// (`evald run --once`); says what is left. Logs its progress on a long catch-up.
    public func catchUp(deadline: Date? = nil, progressEvery: Double = 10) throws -> RoundSummary {
        var total = RoundSummary()
        let started = now()
        var reportedAt = started
        while let summary = try round() {
            total.add(summary)
            let at = now()
            if at.timeIntervalSince(reportedAt) >= progressEvery {
                reportedAt = at
                let rate = Double(total.evaluations) / max(0.001, at.timeIntervalSince(started))
                let remaining = try remainingEvaluations()
                logger.info(
                    "detection.catching_up",
                    metadata: [
                        "detection.evaluations": "\(total.evaluations)", "detection.remaining": "\(remaining)",
                        "detection.rate_per_s": "\(Int(rate))", "detection.designs": "\(total.designs)",
                    ])
            }
            if let deadline, at >= deadline { break }
        }
        try flush()
        total.remaining = try remainingEvaluations()
        // After the flush, the journal's cursor in the database is where feeding stopped.
        total.remainingCalls = try store.usageFeedBacklog().calls
        return total
    }

    private var catchUp: (since: Date, fed: Int, loggedAt: Date)?

    /// The daemon's view of a backlog: while rounds keep finding full batches, logs progress
    /// every `every` seconds, and once when the backlog is gone.
    func noteBacklog(fed: Int, more: Bool, every: Double = 10) {
        let at = now()
        guard more || catchUp != nil else { return }
        var progress = catchUp ?? (at, 0, at)
        progress.fed += fed
        if !more {
            logger.info(
                "detection.caught_up",
                metadata: [
                    "detection.evaluations": "\(progress.fed)", "detection.seconds": "\(Int(at.timeIntervalSince(progress.since)))",
                ])
            catchUp = nil
            return
        }
        if at.timeIntervalSince(progress.loggedAt) >= every {
            progress.loggedAt = at
            let rate = Double(progress.fed) / max(0.001, at.timeIntervalSince(progress.since))
            logger.info(
                "detection.catching_up",
                metadata: [
                    "detection.evaluations": "\(progress.fed)", "detection.remaining": "\((try? remainingEvaluations()) ?? -1)",
                    "detection.rate_per_s": "\(Int(rate))",
                ])
        }
        catchUp = progress
    }

    /// Evaluations committed after the cursor.
    public func remainingEvaluations() throws -> Int {
        if !loaded { try load() }
        return try store.evaluationCount(after: evaluationCursor)
    }

    /// One batch; nil when there was nothing new (what was fed is committed by then).
    func round() throws -> RoundSummary? {
        if !loaded { try load() }
        let evaluations = try store.detectionEvaluations(after: evaluationCursor, limit: Self.batchSize)
        var judged = try store.detectionJudgeOutcomes(after: judgeCursor, limit: Self.batchSize)
        let newEvaluationCursor = evaluations.last?.id ?? evaluationCursor
        // Feedback likewise after the evaluations committed with it (the change watches know the
        // versions it names by then).
        var feedback = try store.detectionFeedback(after: feedbackCursor, limit: Self.batchSize)
        let feedbackFull = feedback.count == Self.batchSize
        if let ahead = feedback.firstIndex(where: { $0.afterEvaluation > newEvaluationCursor }) { feedback.removeSubrange(ahead...) }
        // A score is read after its evaluation (the version watch must have seen the answer):
        // stop at the first score whose evaluation this round has not reached.
        let judgedFull = judged.outcomes.count == Self.batchSize
        if let ahead = judged.outcomes.firstIndex(where: { $0.evaluationID > newEvaluationCursor }) {
            judged.through = judged.outcomes[ahead].seq - 1
            judged.outcomes.removeSubrange(ahead...)
        }
        let usage = try store.detectionUsage(after: usageCursor, limit: Self.usageBatchSize)
        let switches = try store.judgeSwitches(after: judgeSwitchCursor)
        try decideJudgeSwitches()
        guard !evaluations.isEmpty || judged.through > judgeCursor || !feedback.isEmpty || !usage.isEmpty else {
            if !actions.isEmpty { uncommitted = true }
            try flush()
            return nil
        }
        designs = 0
        designSeconds = 0
        let reference = monitors.monitors.compactMap(\.lastSampleAt).max() ?? now().timeIntervalSince1970
        activeSeries = max(1, monitors.monitors.count { ($0.lastSampleAt ?? 0) >= reference - Double(DetectionSettings.baselineDays) * 86400 })
        do {
            for evaluation in evaluations {
                replaying = evaluation.id <= warmupEvaluation
                process(evaluation)
            }
            var nextSwitch = switches.startIndex
            for outcome in judged.outcomes {
                // A judge version switch restarts its judge's series before the first verdict of the new version.
                while nextSwitch < switches.endIndex, switches[nextSwitch].feedSeq <= outcome.seq {
                    try apply(switches[nextSwitch])
                    nextSwitch += 1
                }
                replaying = outcome.seq <= warmupJudgeFeed
                process(outcome)
            }
            while nextSwitch < switches.endIndex, switches[nextSwitch].feedSeq <= judged.through {
                try apply(switches[nextSwitch])
                nextSwitch += 1
            }
            replaying = false
            for piece in feedback { process(piece) }
            for (_, cell) in usage { process(cell) }
            usageCursor = usage.last?.id ?? usageCursor
            evaluationCursor = newEvaluationCursor
            judgeCursor = judged.through
            feedbackCursor = feedback.last?.id ?? feedbackCursor
            // A usage cell's calls count like evaluations: a long catch-up commits as often.
            let calls = usage.reduce(0) { $0 + $1.cell.calls }
            uncommittedEvaluations += evaluations.count + Int(calls)
            uncommitted = true
            var summary = RoundSummary()
            summary.evaluations = evaluations.count
            summary.calls = calls
            summary.judgeScores = judged.outcomes.count
            summary.designs = designs
            summary.designSeconds = designSeconds
            let caughtUp = evaluations.count < Self.batchSize && !judgedFull && !feedbackFull && usage.count < Self.usageBatchSize
            if caughtUp || !actions.isEmpty || uncommittedEvaluations >= Self.commitEvery {
                summary.fired = try commit()
            }
            return summary
        } catch {
            // The in-memory state ran ahead of the database: drop it and start again from what
            // was committed.
            loaded = false
            throw error
        }
    }

    /// Commits what was fed and not yet committed.
    public func flush() throws {
        guard loaded, uncommitted else { return }
        do {
            _ = try commit()
        } catch {
            loaded = false
            throw error
        }
    }

    /// Writes the changed state, the cursors and the alert actions in one transaction; returns
    /// the alerts that fired.
    private func commit() throws -> Int {
        let rows = try stateRows(evaluationCursor: evaluationCursor, judgeCursor: judgeCursor)
        let fired = try store.commitDetectionRound(
            states: rows, actions: actions, judgeFeedConsumed: judgeCursor, usageFeedConsumed: usageCursor, at: now())
        dirtyWatches = []
        dirtyChanges = []
        dirtySwitches = [:]
        actions = []
        uncommittedEvaluations = 0
        uncommitted = false
        for alert in fired {
            logger.warning(
                "alerts.firing",
                metadata: [
                    "alert": "\(alert.publicID)", "alertname": "\(alert.name)",
                    "summary": "\(alert.annotations["summary"] ?? "")",
                ])
        }
        return fired.count
    }

    static func encoder() -> JSONEncoder { DetectionStateCodec.encoder() }
    static func decoder() -> JSONDecoder { DetectionStateCodec.decoder() }

    private func load() throws {
        let decoder = Self.decoder()
        var loadedMonitors: [SeriesMonitor] = []
        for (key, json) in try store.detectionStates(kind: Self.seriesKind) {
            do {
                loadedMonitors.append(try decoder.decode(SeriesMonitor.self, from: Data(json.utf8)))
            } catch {
                logger.warning("detection.state_unreadable", metadata: ["series": "\(key)", "error": "\(error)", "action": "starting the series afresh"])
            }
        }
        monitors = SeriesMonitorTable(loadedMonitors)
        watches = [:]
        dirtyWatches = []
        actions = []
        uncommittedEvaluations = 0
        uncommitted = false
        for (key, json) in try store.detectionStates(kind: Self.versionsKind) {
            if let watch = try? decoder.decode(ProviderVersionWatch.self, from: Data(json.utf8)) { watches[key] = watch }
        }
        changeWatches = [:]
        dirtyChanges = []
        for (key, json) in try store.detectionStates(kind: Self.changesKind) {
            if let watch = try? decoder.decode(ChangeWatch.self, from: Data(json.utf8)) { changeWatches[key] = watch }
        }
        let cursors = try store.detectionStates(kind: Self.cursorKind)
        evaluationCursor = cursors["evaluation"].flatMap { Int64($0) } ?? 0
        judgeCursor = cursors["judge_feed"].flatMap { Int64($0) } ?? 0
        feedbackCursor = cursors["feedback"].flatMap { Int64($0) } ?? 0
        usageCursor = cursors["usage_feed"].flatMap { Int64($0) } ?? 0
        judgeSwitchCursor = cursors["judge_switch"].flatMap { Int64($0) } ?? 0
        undecidedSwitches = [:]
        dirtySwitches = [:]
        for (key, json) in try store.detectionStates(kind: Self.judgeSwitchKind) where json == "rechecking" {
            if let id = Int64(key), let change = try store.judgeSwitch(id: id) { undecidedSwitches[id] = change }
        }
        warmupEvaluation = cursors["warmup_evaluation"].flatMap { Int64($0) } ?? 0
        warmupJudgeFeed = cursors["warmup_judge_feed"].flatMap { Int64($0) } ?? 0
        routeKeys = [:]
        operationalSlots = [:]
        loaded = true
        try reconcile()
        routeKeys = [:]
        operationalSlots = [:]
    }

    /// Resolves firing detection alerts that no state holds open any more: a series whose
    /// state could not be read, a floor or check removed from the config, a judge removed, a
    /// canary no longer configured. Without it they would fire (and repeat) forever.
    private func reconcile() throws {
        var held = Set<String>()
        let checks = Set(config.checks.flatMap { $0.checks.map { "check:\($0.name)" } })
        let judges = judgeSeries
        for monitor in monitors.monitors {
            let key = monitor.key
            let configured =
                key.metric.hasPrefix("op:") || key.metric.hasPrefix("feedback:") || checks.contains(key.metric)
                || (key.metric.hasPrefix("judge:") && (judges.isEmpty || judges[String(key.metric.dropFirst(6))] != nil))
            guard configured else { continue }
            if monitor.open != nil { held.insert(AlertFingerprint.of(regressionLabels(key))) }
            if monitor.floor?.open == true { held.insert(AlertFingerprint.of(floorLabels(key))) }
        }
        for (_, watch) in watches {
            for change in watch.switches where !change.superseded {
                if change.state == .watching || change.state == .drift {
                    held.insert(AlertFingerprint.of(alertBuilder.versionLabels(route: watch.route, model: watch.model, change)))
                }
                for metric in AlertBuilder.alertedMetrics(change) where change.state == .drift {
                    held.insert(AlertFingerprint.of(alertBuilder.driftLabels(route: watch.route, model: watch.model, change, metric: metric)))
                }
            }
        }
        for (_, watch) in changeWatches {
            let dimension = watch.dimension
            for change in watch.changes where !change.ended {
                guard let watched = watch.watch.switches.last(where: { $0.after == change.after && $0.at == change.at }) else { continue }
                if watched.state == .watching || watched.state == .drift {
                    held.insert(AlertFingerprint.of(AlertCatalog.changeLabels(route: watch.route, dimension, before: change.before, after: change.after)))
                }
                for metric in AlertBuilder.changeAlertedMetrics(change, watched) {
                    held.insert(
                        AlertFingerprint.of(
                            AlertCatalog.changeRegressionLabels(route: watch.route, dimension, before: change.before, after: change.after, metricKey: metric)))
                }
                for metric in change.comparisons.filter(\.value.alerted).keys {
                    held.insert(
                        AlertFingerprint.of(
                            AlertCatalog.variantLabels(route: watch.route, dimension, incumbent: change.before, variant: change.after, metricKey: metric)))
                }
            }
        }
        let owned: Set<String> = [
            "QualityRegression", "ErrorRateRegression", "LatencyRegression", "CostSpike", "ProviderDrift", "ProviderVersionChanged",
            "PromptVersionChanged", "ModelChanged", "PromptRegression", "ModelRegression", "VariantWorse",
        ]
        var resolutions: [DetectionAlertAction] = []
        for alert in try store.alerts(includeResolved: false) {
            let canary = alert.labels["route"]?.hasPrefix("canary:") == true || alert.name == "GoldenRegression"
            if canary {
                // The canary's own alerts: only orphaned when the canary is gone from the config.
                if config.golden.canary == nil {
                    resolutions.append(
                        .resolve(
                            fingerprint: alert.fingerprint, numbers: ["canary_removed": 1],
                            receivers: alertBuilder.receiverNames(alert.severity)))
                }
                continue
            }
            guard owned.contains(alert.name), !held.contains(alert.fingerprint) else { continue }
            resolutions.append(
                .resolve(
                    fingerprint: alert.fingerprint, numbers: ["state_reset": 1],
                    receivers: alertBuilder.receiverNames(alert.severity)))
            logger.warning(
                "detection.alert_orphaned",
                metadata: [
                    "alert": "\(alert.publicID)", "alertname": "\(alert.name)",
                    "action": "resolved: no series or watch holds it open (removed from the config, or its state was reset)",
                ])
        }
        if !resolutions.isEmpty {
            try store.commitDetectionRound(states: [], actions: resolutions, judgeFeedConsumed: nil, at: now())
        }
        // Drop the series of checks no longer configured: they would only count against the budget.
        monitors.removeAll { $0.key.metric.hasPrefix("check:") && !checks.contains($0.key.metric) }
    }

    private func stateRows(evaluationCursor: Int64, judgeCursor: Int64) throws -> [DetectionStateRow] {
        let encoder = Self.encoder()
        var rows: [DetectionStateRow] = []
        for slot in monitors.takeDirty() {
            let monitor = monitors[slot], key = monitor.key
            do {
                rows.append(DetectionStateRow(kind: Self.seriesKind, key: key.description, json: String(decoding: try encoder.encode(monitor), as: UTF8.self)))
            } catch {
                // One series that cannot be stored must not stop detection for all: start it afresh.
                logger.error("detection.state_unwritable", metadata: ["series": "\(key)", "error": "\(error)", "action": "starting the series afresh"])
                monitors[slot] = SeriesMonitor(key: key, identity: monitor.identity)
                rows.append(
                    DetectionStateRow(
                        kind: Self.seriesKind, key: key.description,
                        json: String(decoding: try encoder.encode(monitors[slot]), as: UTF8.self)))
            }
        }
        for key in dirtyWatches.sorted() {
            guard let watch = watches[key] else { continue }
            rows.append(DetectionStateRow(kind: Self.versionsKind, key: key, json: String(decoding: try encoder.encode(watch), as: UTF8.self)))
        }
        for key in dirtyChanges.sorted() {
            guard let watch = changeWatches[key] else { continue }
            rows.append(DetectionStateRow(kind: Self.changesKind, key: key, json: String(decoding: try encoder.encode(watch), as: UTF8.self)))
        }
        rows.append(DetectionStateRow(kind: Self.cursorKind, key: "evaluation", json: "\(evaluationCursor)"))
        rows.append(DetectionStateRow(kind: Self.cursorKind, key: "judge_feed", json: "\(judgeCursor)"))
        rows.append(DetectionStateRow(kind: Self.cursorKind, key: "feedback", json: "\(feedbackCursor)"))
        rows.append(DetectionStateRow(kind: Self.cursorKind, key: "usage_feed", json: "\(usageCursor)"))
        rows.append(DetectionStateRow(kind: Self.cursorKind, key: "judge_switch", json: "\(judgeSwitchCursor)"))
        for (id, state) in dirtySwitches.sorted(by: { $0.key < $1.key }) {
            rows.append(DetectionStateRow(kind: Self.judgeSwitchKind, key: "\(id)", json: state))
        }
        return rows
    }

    // MARK: feeding

    /// Trace time is the detectors' clock (a backfill is judged by when it happened), but a
    /// timestamp far in the future (milliseconds written as seconds) must not age out every
    /// baseline: it is clamped as the rollups clamp it (`TraceClock`).
    private func clock(_ ts: Date) -> Date { TraceClock.clamped(ts, now: now()) }

    /// The series of one (route, model), resolved to monitor slots once: every evaluation
    /// feeds about ten series.
    private struct RouteKeys {
        /// Per check name: its metric (`check:NAME`), slot and `min_pass_rate` on the route.
        var checks: [String: CheckSeries] = [:]
        /// The series of the last evaluation's checks, in its order: a route's evaluations
        /// usually carry the same checks, so the next one is matched by name equality alone.
        var lastChecks: [CheckSeries] = []
    }

    private struct CheckSeries {
        var name: String
        var metric: String
        var slot: Int
        var floor: Double?
    }

    /// Emptied at each load: the floors come from the config, and slots from the table.
    private var routeKeys: [String: [String: RouteKeys]] = [:]

    /// The (route, model)'s series, with `lastChecks` matching `checks` one for one.
    private func keys(route: String, model: String, checks: [DetectionEvaluation.CheckOutcome]) -> RouteKeys {
        if let keys = routeKeys[route]?[model], keys.lastChecks.count == checks.count,
            zip(keys.lastChecks, checks).allSatisfy({ $0.name == $1.name })
        {
            return keys
        }
        var keys = routeKeys[route]?[model] ?? RouteKeys()
        keys.lastChecks = checks.map { check in
            if let known = keys.checks[check.name] { return known }
            let metric = "check:\(check.name)"
            let series = CheckSeries(
                name: check.name, metric: metric,
                slot: monitors.slot(for: SeriesKey(metric: metric, measure: .passRate, route: route, model: model)),
                floor: floor(check: check.name, route: route))
            keys.checks[check.name] = series
            return series
        }
        // Bounded like the check plan's cache: routes come from the traces.
        if routeKeys.count >= 4096 { routeKeys.removeAll(keepingCapacity: true) }
        routeKeys[route, default: [:]][model] = keys
        return keys
    }

    private func process(_ evaluation: DetectionEvaluation) {
        let route = evaluation.route, model = evaluation.model, at = clock(evaluation.ts)
        let keys = keys(route: route, model: model, checks: evaluation.checks)
        if let version = ProviderVersionWatch.version(responseModel: evaluation.responseModel, systemFingerprint: evaluation.systemFingerprint) {
            let watchKey = "\(route)|\(model)"
            // Taken out of the dictionary while it changes, so its storage is not copied.
            var watch = watches.removeValue(forKey: watchKey) ?? ProviderVersionWatch(route: route, model: model)
            handle(
                watch.noteAnswer(version: version, at: at, evaluationID: evaluation.id, settings: DriftSettings(config.detection)),
                route: route, model: model)
            for (check, series) in zip(evaluation.checks, keys.lastChecks) {
                handle(
                    watch.observe(version: version, metric: series.metric, passed: check.passed, evaluationID: evaluation.id),
                    route: route, model: model)
            }
            watches[watchKey] = watch
            dirtyWatches.insert(watchKey)
        }
        // The op: series are fed from every call (`process(_: UsageFeedCell)`), not from the sample.
        noteChanges(evaluation, at: at, checks: keys.lastChecks)
        for (check, series) in zip(evaluation.checks, keys.lastChecks) {
            observe(series.slot, .passed(check.passed), at: at, evaluationID: evaluation.id, floor: series.floor)
        }
    }

    /// The `op:` series' slots per (route, model); emptied at each load, like `routeKeys`.
    private var operationalSlots: [String: (errorRate: Int, latency: Int, cost: Int)] = [:]

    /// Feeds a minute of a (route, model)'s calls, every one of them, to its `op:` series:
    /// the error rate, and latency and cost per call (SPEC 7). The calls are no evaluations:
    /// they give alerts no examples (`evald traces --error-class` lists the failed calls).
    private func process(_ cell: UsageFeedCell) {
        let cacheKey = "\(cell.route)|\(cell.model)"
        let slots =
            operationalSlots[cacheKey]
            ?? (
                monitors.slot(for: SeriesKey(metric: MetricName.errorRate, measure: .passRate, route: cell.route, model: cell.model)),
                monitors.slot(for: SeriesKey(metric: MetricName.latency, measure: .logValue, route: cell.route, model: cell.model)),
                monitors.slot(for: SeriesKey(metric: MetricName.cost, measure: .logValue, route: cell.route, model: cell.model))
            )
        if operationalSlots.count >= 4096 { operationalSlots.removeAll(keepingCapacity: true) }
        operationalSlots[cacheKey] = slots
        let at = clock(cell.at)
        for ok in cell.outcomes() { observe(slots.errorRate, .passed(ok), at: at, evaluationID: 0) }
        for latency in cell.latencies() where latency > 0 { observe(slots.latency, .value(latency), at: at, evaluationID: 0) }
        for cost in cell.costs() where cost > 0 { observe(slots.cost, .value(cost), at: at, evaluationID: 0) }
    }

    /// Feeds the route's change watches (prompt version, model) with an evaluation's answer
    /// and its outcomes: every check, and the error rate.
    private func noteChanges(_ evaluation: DetectionEvaluation, at: Date, checks: [CheckSeries]) {
        let settings = ChangeSettings(config.detection)
        for dimension in ChangeWatch.Dimension.allCases {
            let version = dimension == .promptVersion ? evaluation.promptVersion : evaluation.model
            guard let version, !version.isEmpty else { continue }
            let key = "\(dimension.rawValue)|\(evaluation.route)"
            var watch = changeWatches.removeValue(forKey: key) ?? ChangeWatch(route: evaluation.route, dimension: dimension)
            var events = watch.noteAnswer(version: version, at: at, evaluationID: evaluation.id, settings: settings)
            func metric(_ name: String) -> String {
                dimension == .promptVersion ? AlertCatalog.promptMetricKey(model: evaluation.model, metric: name) : name
            }
            for (check, series) in zip(evaluation.checks, checks) {
                events += watch.observe(version: version, metric: metric(series.metric), passed: check.passed, evaluationID: evaluation.id, settings: settings)
            }
            events += watch.observe(version: version, metric: metric("op:error_rate"), passed: evaluation.ok, evaluationID: evaluation.id, settings: settings)
            if let latency = evaluation.latencyMs, latency > 0 {
                events += watch.observe(version: version, metric: metric(MetricName.latency), value: latency, evaluationID: evaluation.id, settings: settings)
            }
            if let cost = evaluation.costUSD, cost > 0 {
                events += watch.observe(version: version, metric: metric(MetricName.cost), value: cost, evaluationID: evaluation.id, settings: settings)
            }
            changeWatches[key] = watch
            dirtyChanges.insert(key)
            handle(events, route: evaluation.route, dimension: dimension)
        }
    }

    /// Feeds a judge's verdict (and 1-5 score) to the route's change watches.
    private func noteChanges(_ outcome: DetectionJudgeOutcome, score: Int?) {
        let settings = ChangeSettings(config.detection)
        for dimension in ChangeWatch.Dimension.allCases {
            let version = dimension == .promptVersion ? outcome.promptVersion : outcome.model
            let key = "\(dimension.rawValue)|\(outcome.route)"
            guard let version, !version.isEmpty, var watch = changeWatches.removeValue(forKey: key) else { continue }
            // Keyed by identity: an edited rubric is another metric, never a regression.
            let name = "judge:\(outcome.identity)"
            let metric = dimension == .promptVersion ? AlertCatalog.promptMetricKey(model: outcome.model, metric: name) : name
            var events = watch.observe(version: version, metric: metric, passed: outcome.passed, evaluationID: outcome.evaluationID, settings: settings)
            if let score {
                events += watch.observe(version: version, metric: metric, score: score, evaluationID: outcome.evaluationID, settings: settings)
            }
            changeWatches[key] = watch
            dirtyChanges.insert(key)
            handle(events, route: outcome.route, dimension: dimension)
        }
    }

    /// A check's `min_pass_rate` on a route: from the rule that scored it, chosen as the
    /// check plan chooses (a later matching glob overrides an earlier one of the same name).
    /// Looked up once per (route, model, check): `routeKeys` keeps it until the next load.
    private func floor(check name: String, route: String) -> Double? {
        CheckPlan.merge(config.checks.map { ($0.glob, $0.checks) }, forRoute: route, name: \.name)
            .first { $0.name == name }?.minPassRate
    }

    private func process(_ outcome: DetectionJudgeOutcome) {
        let metric = "judge:\(outcome.judgeName)"
        let info = judgeSeries[outcome.judgeName]
        let at = clock(outcome.ts)
        // A whole 1-5 score of a judge on a 1-5 scale: its mean is watched too.
        let score =
            info?.scoresOneToFive == true && outcome.score == outcome.score.rounded() && (1...5).contains(outcome.score)
            ? Int(outcome.score) : nil
        observe(
            monitors.slot(for: SeriesKey(metric: metric, measure: .passRate, route: outcome.route, model: outcome.model), identity: outcome.identity),
            .passed(outcome.passed), at: at, evaluationID: outcome.evaluationID, identity: outcome.identity, floor: info?.minPassRate)
        if let score {
            observe(
                monitors.slot(for: SeriesKey(metric: metric, measure: .meanScore, route: outcome.route, model: outcome.model), identity: outcome.identity),
                .score(score), at: at, evaluationID: outcome.evaluationID, identity: outcome.identity)
        }
        noteChanges(outcome, score: score)
        if let version = ProviderVersionWatch.version(responseModel: outcome.responseModel, systemFingerprint: outcome.systemFingerprint) {
            let watchKey = "\(outcome.route)|\(outcome.model)"
            if var watch = watches.removeValue(forKey: watchKey) {
                // Keyed by identity: an edited rubric is another metric, never drift.
                let judgeMetric = "judge:\(outcome.identity)"
                handle(
                    watch.observe(version: version, metric: judgeMetric, passed: outcome.passed, evaluationID: outcome.evaluationID),
                    route: outcome.route, model: outcome.model)
                if let score {
                    handle(
                        watch.observe(version: version, metric: judgeMetric, score: score, evaluationID: outcome.evaluationID),
                        route: outcome.route, model: outcome.model)
                }
                watches[watchKey] = watch
                dirtyWatches.insert(watchKey)
            }
        }
    }

    /// A judge answered with a new version of itself: its series (every route and model) end their
    /// alerts and start a new baseline, so a judge that now scores lower pages no one; an earlier
    /// switch's JudgeDrift resolves; the rechecks decide this one's.
    private func apply(_ change: JudgeSwitch) throws {
        judgeSwitchCursor = change.id
        let metric = "judge:\(change.judgeName)"
        for slot in monitors.monitors.indices where monitors[slot].key.metric == metric {
            let key = monitors[slot].key
            if monitors[slot].open != nil {
                actions.append(
                    .resolve(
                        fingerprint: AlertFingerprint.of(regressionLabels(key)), numbers: ["judge_version_changed": 1],
                        receivers: alertBuilder.receiverNames(severity(for: key))))
            }
            if monitors[slot].floor?.open == true {
                actions.append(
                    .resolve(
                        fingerprint: AlertFingerprint.of(floorLabels(key)), numbers: ["judge_version_changed": 1],
                        receivers: alertBuilder.receiverNames(.critical)))
            }
            monitors[slot] = SeriesMonitor(key: key, identity: monitors[slot].identity)
            monitors.markDirty(slot)
        }
        if let earlier = try store.judgeSwitches(after: 0).last(where: { $0.judgeName == change.judgeName && $0.id < change.id }) {
            actions.append(
                .resolve(
                    fingerprint: AlertFingerprint.of(
                        AlertCatalog.judgeDriftLabels(judge: earlier.judgeName, before: earlier.versionBefore, after: earlier.versionAfter)),
                    numbers: ["judge_version_changed": 1], receivers: alertBuilder.receiverNames(.warning)))
        }
        undecidedSwitches[change.id] = change
        dirtySwitches[change.id] = "rechecking"
        logger.info(
            "judge.version_switched",
            metadata: [
                "judge": "\(change.judgeName)", "version_before": "\(change.versionBefore)", "version_after": "\(change.versionAfter)",
                "action": "its series start a new baseline; stored traces are judged again",
            ])
    }

    /// Decides JudgeDrift for switches whose rechecks are all in.
    private func decideJudgeSwitches() throws {
        for id in undecidedSwitches.keys.sorted() {
            guard let change = undecidedSwitches[id] else { continue }
            let progress = try store.recheckProgress(switchID: id)
            guard progress.pending == 0 else { continue }
            let pairs = progress.pairs.map {
                JudgeRecheckTest.Pair(oldScore: $0.oldScore, oldPassed: $0.oldPassed, newScore: $0.newScore, newPassed: $0.newPassed)
            }
            let test = JudgeRecheckTest.evaluate(
                pairs, meanScores: judgeSeries[change.judgeName]?.scoresOneToFive ?? false, alpha: config.detection.driftAlpha,
                minDrop: config.detection.minDrop)
            undecidedSwitches[id] = nil
            dirtySwitches[id] = test.state.rawValue
            uncommitted = true
            logger.info(
                "judge.recheck_decided",
                metadata: [
                    "judge": "\(change.judgeName)", "version_after": "\(change.versionAfter)", "state": "\(test.state.rawValue)",
                    "pairs": "\(test.pairs)", "failed": "\(progress.failed)",
                ])
            guard test.state == .drift else { continue }
            let text = AlertCatalog.judgeDriftText(judge: change.judgeName, before: change.versionBefore, after: change.versionAfter, test)
            var firing = alertBuilder.firing(
                "JudgeDrift", .warning,
                labels: AlertCatalog.judgeDriftLabels(judge: change.judgeName, before: change.versionBefore, after: change.versionAfter),
                summary: text.summary, description: text.description, numbers: test.numbers.merging(["failed": Double(progress.failed)]) { a, _ in a },
                examples: Array(progress.pairs.filter { $0.oldPassed != $0.newPassed }.prefix(5).map(\.evaluationID)))
            firing.annotations["judge_identity"] = change.identity
            actions.append(.fire(firing, receivers: alertBuilder.receiverNames(.warning)))
        }
    }

    /// Feeds a piece of feedback to its series (`feedback:thumbs`, and `feedback:score` for
    /// whole 1-5 ratings, watched like a judge's mean score) and to the route's change watches.
    /// Feedback is no evaluation: it gives alerts no examples (evaluation id 0).
    private func process(_ feedback: DetectionFeedback) {
        let at = clock(feedback.ts)
        let observation: SeriesObservation
        let metric: String
        switch feedback.value {
        case .thumb(let up):
            observation = .passed(up)
            metric = MetricName.feedbackThumbs
            observe(
                monitors.slot(for: SeriesKey(metric: metric, measure: .passRate, route: feedback.route, model: feedback.model)), observation, at: at,
                evaluationID: 0)
        case .score(let value):
            // Other numbers (0-10, 0-1) are reported (`evald metrics`, `evald compare`), not watched.
            guard value == value.rounded(), (1...5).contains(value) else { return }
            observation = .score(Int(value))
            metric = MetricName.feedbackScore
            observe(
                monitors.slot(for: SeriesKey(metric: metric, measure: .meanScore, route: feedback.route, model: feedback.model)), observation, at: at,
                evaluationID: 0)
        }
        let settings = ChangeSettings(config.detection)
        for dimension in ChangeWatch.Dimension.allCases {
            let version = dimension == .promptVersion ? feedback.promptVersion : feedback.model
            let key = "\(dimension.rawValue)|\(feedback.route)"
            guard let version, !version.isEmpty, var watch = changeWatches.removeValue(forKey: key) else { continue }
            let watched = dimension == .promptVersion ? AlertCatalog.promptMetricKey(model: feedback.model, metric: metric) : metric
            let events: [ChangeWatch.Event]
            switch observation {
            case .passed(let up): events = watch.observe(version: version, metric: watched, passed: up, evaluationID: 0, settings: settings)
            case .score(let score): events = watch.observe(version: version, metric: watched, score: score, evaluationID: 0, settings: settings)
            case .value: events = []
            }
            changeWatches[key] = watch
            dirtyChanges.insert(key)
            handle(events, route: feedback.route, dimension: dimension)
        }
    }

    private func observe(
        _ slot: Int, _ observation: SeriesObservation, at date: Date, evaluationID: Int64,
        identity: String? = nil, floor: Double? = nil
    ) {
        let key = monitors[slot].key
        if let identity, let previous = monitors[slot].identity, previous != identity {
            // An edited rubric is a new series: its alerts end, its baseline starts over.
            if monitors[slot].open != nil {
                actions.append(
                    .resolve(
                        fingerprint: AlertFingerprint.of(regressionLabels(key)), numbers: ["rubric_changed": 1],
                        receivers: alertBuilder.receiverNames(severity(for: key))))
            }
            if monitors[slot].floor?.open == true {
                actions.append(
                    .resolve(
                        fingerprint: AlertFingerprint.of(floorLabels(key)), numbers: ["rubric_changed": 1],
                        receivers: alertBuilder.receiverNames(.critical)))
            }
            logger.info("detection.series_restarted", metadata: ["series": "\(key)", "from": "\(previous)", "to": "\(identity)"])
            monitors[slot] = SeriesMonitor(key: key, identity: identity)
        }
        if monitors[slot].identity == nil { monitors[slot].identity = identity }
        let settings = DetectionSettings(config.detection, seriesCount: activeSeries, minPassRate: floor)
        let designsBefore = monitors[slot].designs ?? 0
        let started = ContinuousClock.now
        // In place: the monitor's day buckets are not copied.
        let events = monitors[slot].observe(observation, at: date, evaluationID: evaluationID, settings: settings)
        monitors.markDirty(slot)
        if let made = monitors[slot].designs, made > designsBefore {
            // A sample that designed is timed whole: the rest of it is microseconds.
            designs += made - designsBefore
            let elapsed = ContinuousClock.now - started
            designSeconds += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        guard !events.isEmpty else { return }
        let monitor = monitors[slot]
        for event in events {
            switch event {
            case .regression(let finding):
                if replaying { continue }
                actions.append(.fire(regressionFiring(key, monitor, finding), receivers: alertBuilder.receiverNames(severity(for: key))))
            case .recovered(let numbers):
                actions.append(
                    .resolve(
                        fingerprint: AlertFingerprint.of(regressionLabels(key)), numbers: numbers.values,
                        receivers: alertBuilder.receiverNames(severity(for: key))))
            case .floorBreached(let finding):
                if replaying { continue }
                actions.append(.fire(floorFiring(key, finding), receivers: alertBuilder.receiverNames(.critical)))
            case .floorCleared(let numbers):
                actions.append(
                    .resolve(
                        fingerprint: AlertFingerprint.of(floorLabels(key)), numbers: numbers?.values ?? ["floor_removed": 1],
                        receivers: alertBuilder.receiverNames(.critical)))
            }
        }
    }

    private func handle(_ events: [ProviderVersionWatch.Event], route: String, model: String) {
        guard !events.isEmpty else { return }
        let decided = alertBuilder.versionActions(events, route: route, model: model)
        actions += replaying ? decided.filter { if case .fire = $0 { return false } else { return true } } : decided
    }

    private func handle(_ events: [ChangeWatch.Event], route: String, dimension: ChangeWatch.Dimension) {
        guard !events.isEmpty else { return }
        let decided = alertBuilder.changeActions(events, route: route, dimension: dimension)
        actions += replaying ? decided.filter { if case .fire = $0 { return false } else { return true } } : decided
    }

    // MARK: alerts

    func severity(for key: SeriesKey) -> AlertSeverity { AlertCatalog.regressionSeverity(for: key) }
    func regressionLabels(_ key: SeriesKey) -> [String: String] { AlertCatalog.regressionLabels(key) }
    func floorLabels(_ key: SeriesKey) -> [String: String] { AlertCatalog.floorLabels(key) }

    private func regressionFiring(_ key: SeriesKey, _ monitor: SeriesMonitor, _ finding: SeriesFinding) -> AlertFiring {
        var annotations: [String: String] = [:]
        var allNumbers = finding.numbers.values
        var note: String?
        if let start = finding.changeStart {
            let alarmAt = Date(timeIntervalSince1970: monitor.lastSampleAt ?? start.timeIntervalSince1970)
            // The nearest of the changes around the start: a provider switch, a prompt deploy,
            // a model swap.
            var nearest: (at: Double, note: String, annotation: String, value: String)?
            func consider(_ at: Double, _ note: String, _ annotation: String, _ value: String) {
                if nearest == nil || abs(at - start.timeIntervalSince1970) < abs(nearest!.at - start.timeIntervalSince1970) {
                    nearest = (at, note, annotation, value)
                }
            }
            if let watch = watches["\(key.route)|\(key.model)"], let change = watch.switchNear(start, alarmAt: alarmAt) {
                consider(
                    change.at, AlertCatalog.switchNote(before: change.before, after: change.after, at: change.at), "version_switch",
                    "\(change.before) -> \(change.after)")
            }
            for dimension in ChangeWatch.Dimension.allCases {
                guard let watch = changeWatches["\(dimension.rawValue)|\(key.route)"], let change = watch.changeNear(start, alarmAt: alarmAt) else { continue }
                let what =
                    dimension == .promptVersion ? "prompt \(change.kind == .slice ? "slice" : "deploy")" : "model \(change.kind == .slice ? "slice" : "change")"
                consider(
                    change.at, AlertCatalog.switchNote(before: change.before, after: change.after, at: change.at, what: what),
                    dimension == .promptVersion ? "prompt_deploy" : "model_change", "\(change.before) -> \(change.after)")
            }
            if let nearest {
                note = nearest.note
                annotations[nearest.annotation] = nearest.value
                allNumbers["\(nearest.annotation)_at"] = nearest.at
            }
        }
        if let identity = monitor.identity { annotations["judge_identity"] = identity }
        let text = AlertCatalog.regressionText(key, finding.numbers, switchNote: note)
        var firing = alertBuilder.firing(
            AlertCatalog.regressionName(for: key), severity(for: key), labels: regressionLabels(key),
            summary: text.summary, description: text.description, numbers: allNumbers, examples: finding.examples.filter { $0 > 0 })
        firing.annotations.merge(annotations) { a, _ in a }
        return firing
    }

    private func floorFiring(_ key: SeriesKey, _ finding: FloorFinding) -> AlertFiring {
        let text = AlertCatalog.floorText(key, finding.numbers)
        return alertBuilder.firing(
            "QualityRegression", .critical, labels: floorLabels(key), summary: text.summary, description: text.description,
            numbers: finding.numbers.values, examples: finding.examples)
    }

    /// The routes to sample above their configured rate. The low-traffic floor: a
    /// route whose traffic at its rate yields fewer than `sampling.min_per_minute` samples is
    /// sampled at the rate that would (capped by `sampling.max_rate`), its traffic estimated
    /// from the last day's sample. The confirmation boost: a route with a series past half its
    /// threshold (and no alert open) is sampled at `sampling.boost_rate` until the suspicion
    /// is confirmed or cleared; a route with a new version running beside the incumbent (a slice)
    /// too, while it is compared.
    public func publishRaisedRates() throws {
        let sampling = config.sampling
        let sampler = sampling.makeSampler()
        let at = now()
        if sampling.minPerMinute <= 0 {
            floorRates = [:]
        } else if at.timeIntervalSince(trafficCheckedAt) >= 60 {
            // A day back: a quiet route has few samples, and an hour can hold none. The span runs
            // from the route's first sample in that day, so a route that started recently is not
            // taken for a quiet one. With shards, this instance sees 1/N of the traffic.
            let since = at - 86400
            let shards = Double(sampling.shard.count)
            var rates: [String: Double] = [:]
            for (route, traffic) in try store.estimatedTraffic(since: since) where !route.isEmpty && traffic.calls > 0 {
                let minutes = max(1, at.timeIntervalSince(max(since, traffic.firstAt)) / 60)
                let wanted = min(sampling.maxRate, sampling.minPerMinute / (shards * traffic.calls / minutes))
                if wanted > sampler.configuredRate(forRoute: route) { rates[route] = wanted }
                // Checked again in a minute once there is traffic to go on; until then every round.
                trafficCheckedAt = at
            }
            floorRates = rates
        }
        var rates = floorRates
        let boost = sampling.effectiveBoostRate
        for route in Set(monitors.monitors.filter(\.suspect).map(\.key.route)) where !route.isEmpty && sampler.configuredRate(forRoute: route) < boost {
            rates[route] = max(rates[route] ?? 0, boost)
        }
        // A small slice (a new version beside the incumbent) is sampled at the boost rate while it
        // is compared, so it gets an answer in hours: for a day after it started.
        for watch in changeWatches.values where !watch.route.isEmpty && sampler.configuredRate(forRoute: watch.route) < boost {
            if let change = watch.changes.last, !change.ended, change.kind != .deploy, at.timeIntervalSince1970 - change.at < 86400 {
                rates[watch.route] = max(rates[watch.route] ?? 0, boost)
            }
        }
        if rates != runtime.currentRaisedRates {
            runtime.setRaisedRates(rates)
            try store.recordRaisedSamplingRates(rates, at: at)
        }
    }
}
