import EvaldAlerting
import EvaldCore
import EvaldHTTP
import EvaldSpool
import EvaldStore
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import Prometheus
import ServiceLifecycle
import UnixSignals

/// Builds and runs evald's services from a configuration.
public enum Daemon {
    public static func makeLogger(_ config: EvaldConfig?) -> Logger {
        let level = Logger.Level(configName: config?.logLevel ?? "info")
        return Logger(label: "evald") { label in LogfmtLogHandler(label: label, level: level) }
    }

    /// The judges of a configuration; problems with API keys are logged (their judges are skipped).
    static func makeJudgeRoster(_ config: EvaldConfig, transport: HTTPTransport, logger: Logger) throws(ConfigErrors) -> JudgeRoster {
        let (roster, warnings) = try JudgeRoster.build(config: config, transport: transport, logger: logger)
        for warning in warnings {
            logger.error(
                "judge.endpoint_unavailable",
                metadata: ["error": "\(warning)", "action": "its judges are skipped until the key is provided and evald reloaded"])
        }
        for member in roster.members {
            logger.info(
                "judge.loaded",
                metadata: [
                    "judge": "\(member.rubric.identity)", "judge.endpoint": "\(member.endpointName ?? "-")",
                    "judge.state": "\(member.client == nil ? "skipped" : "ready")",
                ])
        }
        return roster
    }

    /// The configured checks, with their schema files read from disk.
    public static func makeCheckPlan(_ config: EvaldConfig) throws(ConfigErrors) -> CheckPlan {
        try CheckPlan(config: config, readFile: { try String(contentsOfFile: $0, encoding: .utf8) })
    }

    /// The alert receivers of a configuration, their secrets loaded. A receiver that cannot be
    /// built (a missing webhook secret) is a configuration error: an alerting daemon that
    /// cannot alert must not pretend to run.
    public static func makeReceivers(
        _ config: EvaldConfig, transport: HTTPTransport,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigErrors) -> [any AlertReceiver] {
        do {
            return try AlertReceivers.build(
                config: config.alerts, configDirectory: (config.sourcePath as NSString).deletingLastPathComponent,
                transport: transport, environment: environment,
                externalURL: config.http.listen.map { "http://\($0)" } ?? "http://evald.local")
        } catch {
            throw ConfigErrors([ConfigProblem(file: config.sourcePath, line: nil, key: error.key, message: error.message)])
        }
    }

    /// The setup of a configuration: its checks, judges and receivers, built whole.
    static func makeSetup(
        _ config: EvaldConfig, transport: HTTPTransport, logger: Logger,
        environment: [String: String]
    ) throws(ConfigErrors) -> DaemonSetup {
        let roster = try makeJudgeRoster(config, transport: transport, logger: logger)
        let receivers = try makeReceivers(config, transport: transport, environment: environment)
        return DaemonSetup(config: config, checks: try makeCheckPlan(config), roster: roster, receivers: receivers)
    }

    /// The daemon: every long-running loop as a `Service` in one group, in dependency order
    /// (graceful shutdown runs in reverse). SIGTERM and SIGINT stop it gracefully.
    public static func run(config: EvaldConfig, logger: Logger, environment: [String: String] = ProcessInfo.processInfo.environment) async throws {
        MemoryHygiene.limitArenas()
        let lock = try StateDirectoryLock(stateDir: config.stateDir)
        defer { withExtendedLifetime(lock) {} }
        let store = try StateStore.open(path: config.databasePath, secureDelete: config.storage.redact)
        if !FileManager.default.fileExists(atPath: config.spool.dir) {
            logger.warning("spool.dir_missing", metadata: ["spool.dir": "\(config.spool.dir)", "action": "waiting for it to appear"])
        }
        let transport = HTTPTransport()
        let setups = SetupSource(try makeSetup(config, transport: transport, logger: logger, environment: environment))
        // The OTLP receiver's token, and its span keys read back from its files, before anything runs.
        let otlpToken = try OTLPReceiver.loadToken(config, environment: environment)
        let receiverSpool = try OTLPReceiver.makeSpool(config)
        let runtime = DaemonRuntime(metrics: DaemonMetrics(seriesLimit: config.http.metricsSeriesLimit), receiverSpool: receiverSpool)
        // Metrics recorded through swift-metrics (by evald or a library) land in the same registry.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: runtime.metrics.registry))
        let notifier = SystemdNotifier(environment: environment)
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let http = HTTPEndpoints.makeApplication(store: store, setups: setups, metrics: runtime.metrics, runtime: runtime, logger: logger)
        let otlp = receiverSpool.flatMap {
            OTLPReceiver.makeApplication(config: config.otlp, spool: $0, token: otlpToken, runtime: runtime, logger: logger)
        }
        // In dependency order; graceful shutdown runs in reverse: systemd hears STOPPING=1
        // first, then the listener stops (scrapes never see a half-stopped daemon), and the
        // heartbeat stops last. Every service's end ends the group.
        let services: [any Service] =
            [
                HeartbeatService(store: store, logger: logger),
                SpoolIngestService(store: store, setups: setups, runtime: runtime, logger: logger),
                JudgeService(store: store, setups: setups, runtime: runtime, logger: logger),
                DetectionService(store: store, setups: setups, runtime: runtime, logger: logger),
                // Always present: it idles without golden.canary, and a reload can add one.
                CanaryService(store: store, setups: setups, transport: transport, logger: logger, environment: environment),
                HealthAlertService(store: store, setups: setups, runtime: runtime, logger: logger),
                BudgetAlertService(store: store, setups: setups, logger: logger),
                ReportScheduleService(store: store, setups: setups, logger: logger, spoolCaughtUp: { runtime.spoolCaughtUp }),
                AlertDeliveryService(store: store, setups: setups, runtime: runtime, logger: logger),
                RetentionService(
                    store: store, retention: config.retention, logger: logger,
                    goldenTraceIDs: { GoldenSetLoader.traceIDs(config: setups.current.config) }, report: { runtime.setSizeCheck($0) }),
            ] + (http.map { [$0] } ?? []) + (otlp.map { [$0] } ?? []) + [
                ReloadService(
                    configPath: config.sourcePath, setups: setups, runtime: runtime, notifier: notifier, logger: logger,
                    signals: hangups, transport: transport),
                SystemdService(
                    notifier: notifier, runtime: runtime, logger: logger,
                    watchdog: SystemdNotifier.watchdogInterval(environment: environment)),
            ]
        var groupConfig = ServiceGroupConfiguration(
            services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfig.maximumGracefulShutdownDuration = .seconds(config.shutdownGrace)
        let group = ServiceGroup(configuration: groupConfig)
        logger.info(
            "evald.started",
            metadata: [
                "version": "\(EvaldVersion.current)", "spool.dir": "\(config.spool.dir)", "state.db": "\(config.databasePath)",
                "sampling.rate": "\(config.sampling.rate)", "sampling.shard": "\(config.sampling.shard)",
            ])
        notifier.notify(["READY=1", "STATUS=reading \(config.spool.dir)"])
        try await group.run()
        try? await transport.shutdown()
        logger.info("evald.stopped")
    }

    /// What `evald run --once` did, stage by stage: each stage bounded, what is left reported.
    public struct OnceSummary: Sendable {
        public struct Stage: Sendable {
            public var seconds = 0.0
            /// CPU time of the process during the stage (user + system).
            public var cpuSeconds = 0.0
        }

        public var spool = SpoolPollSummary()
        public var spoolStage = Stage()
        /// Of the spool stage, the time the checks took.
        public var checkSeconds = 0.0
        /// nil when no judge can run (none configured, no endpoint): see `judgeNote`.
        public var judges: JudgeService.DrainSummary?
        public var judgeStage = Stage()
        public var judgeTimeout: Double = 0
        public var judgeNote: String?
        public var detection: DetectionEngine.RoundSummary?
        public var detectionStage = Stage()
        public var detectionTimeout: Double = 0
        /// How far detection was behind ingest when the stage ended (0: caught up).
        public var detectionLag = 0.0
        public var notifications: AlertDeliveryService.DrainSummary?
        public var notificationStage = Stage()
        public var firingAlerts = 0
        /// Alerts this run fired: by detection, and by the health rules (JudgeFailing, ...).
        public var healthFired = 0
        public var budgetFired = 0
        /// Ctrl-C (SIGINT) or SIGTERM stopped the run; `interruptedDuring` names the stage.
        public var interruptedDuring: String?
    }

    /// Timeouts of the `--once` stages after the spool (which reads what is there and stops).
    public struct OnceTimeouts: Sendable {
        public var judges: Double
        public var detection: Double
        public var notifications: Double

        public init(judges: Double, detection: Double = 600, notifications: Double = 60) {
            self.judges = judges
            self.detection = detection
            self.notifications = notifications
        }
    }

    /// `evald run --once`: reads what the spool holds now, judges what is queued, feeds the
    /// detectors, evaluates the health alerts and delivers notifications; each stage waits at
    /// most its timeout and what it leaves stays for the next run. All of it on the blocking
    /// executor.
    public static func runOnce(
        config: EvaldConfig, logger: Logger, timeouts: OnceTimeouts,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> OnceSummary {
        try await BlockingExecutor.shared.run {
            try await once(config: config, logger: logger, timeouts: timeouts, environment: environment)
        }
    }

    private static func once(
        config: EvaldConfig, logger: Logger, timeouts: OnceTimeouts,
        environment: [String: String]
    ) async throws -> OnceSummary {
        let lock = try StateDirectoryLock(stateDir: config.stateDir)
        defer { withExtendedLifetime(lock) {} }
        let store = try StateStore.open(path: config.databasePath, secureDelete: config.storage.redact)
        let pid = ProcessInfo.processInfo.processIdentifier
        let startedAt = Date()
        try store.recordHeartbeat(
            pid: pid, hostname: ProcessInfo.processInfo.hostName, startedAt: startedAt, at: startedAt, version: EvaldVersion.current,
            mode: "once", progressJSON: OnceProgress(stage: "spool").json.serialized())
        defer { try? store.recordStop(pid: pid, at: Date()) }
        // Ctrl-C (or SIGTERM) stops the run at the next step: what is done is committed, what is
        // in flight stays queued, and the summary says so. A second Ctrl-C ends it at once.
        let interrupted = NIOLockedValueBox(false)
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let watcher = Task {
            for await _ in signals {
                interrupted.withLockedValue { $0 = true }
                logger.warning("once.interrupted", metadata: ["action": "finishing the current step; a second Ctrl-C exits at once"])
                signal(SIGINT, SIG_DFL)
                signal(SIGTERM, SIG_DFL)
                return
            }
        }
        defer { watcher.cancel() }
        let isInterrupted: @Sendable () -> Bool = { interrupted.withLockedValue { $0 } }
        let transport = HTTPTransport()
        var summary = OnceSummary()
        let progress: @Sendable (OnceProgress) -> Void = { update in
            try? store.recordOnceProgress(pid: pid, at: Date(), progressJSON: update.json.serialized())
        }
        do {
            let setups = SetupSource(try makeSetup(config, transport: transport, logger: logger, environment: environment))
            let setup = setups.current
            let runtime = DaemonRuntime()
            var stage = StageClock()
            let reader = SpoolReader(
                settings: .init(config.spool, redact: config.storage.redact), store: store, classifier: SpoolIngestService.classifier(config, raised: [:]),
                checks: setup.checks, judges: setup.roster.routing, usage: config.usage, onEvent: { $0.log(to: logger) })
            var lastProgress = Date()
            while true {
                if isInterrupted() {
                    summary.interruptedDuring = "spool"
                    break
                }
                let poll = try reader.poll()
                summary.spool.bytesRead += poll.bytesRead
                summary.spool.counts += poll.counts
                if poll.caughtUp, poll.bytesRead == 0 { break }
                if Date().timeIntervalSince(lastProgress) >= 1 {
                    lastProgress = Date()
                    progress(OnceProgress(stage: "spool", linesRead: summary.spool.counts.linesRead, sampled: summary.spool.counts.sampled))
                }
            }
            summary.spoolStage = stage.lap()
            let spoolCounts = summary.spool.counts
            summary.checkSeconds = Double(reader.checkTime.components.seconds) + Double(reader.checkTime.components.attoseconds) / 1e18
            if summary.interruptedDuring != nil {
                summary.judgeNote = "judges: not started (interrupted); the queue waits for the next run"
                summary.judges = JudgeService.DrainSummary(stillQueued: (try? store.judgeQueueSummary().depth) ?? 0, interrupted: true)
            } else if setup.roster.members.contains(where: { $0.client != nil }) {
                progress(OnceProgress(stage: "judges", linesRead: spoolCounts.linesRead, sampled: spoolCounts.sampled))
                summary.judges = await JudgeService(store: store, setups: setups, runtime: runtime, logger: logger).drain(
                    timeout: timeouts.judges, shouldStop: isInterrupted,
                    progress: { judged in
                        progress(
                            OnceProgress(
                                stage: "judges", linesRead: spoolCounts.linesRead, sampled: spoolCounts.sampled, judged: judged.judged,
                                judgeErrors: judged.errors, stillQueued: judged.stillQueued))
                    })
                if summary.judges?.interrupted == true { summary.interruptedDuring = "judges" }
                summary.judgeTimeout = timeouts.judges
            } else if let reason = setup.roster.members.first?.unavailable {
                summary.judgeNote = "judges skipped: \(reason)"
            } else {
                summary.judgeNote = "no judges in \(config.judge.dir)"
            }
            summary.judgeStage = stage.lap()
            if summary.interruptedDuring != nil {
                // Detection and delivery resume from the store: the next run (or the daemon) does them.
                summary.firingAlerts = try store.firingAlertCount()
                try? await transport.shutdown()
                return summary
            }
            progress(
                OnceProgress(
                    stage: "detection", linesRead: spoolCounts.linesRead, sampled: spoolCounts.sampled, judged: summary.judges?.judged ?? 0,
                    judgeErrors: summary.judges?.errors ?? 0, stillQueued: summary.judges?.stillQueued ?? 0))
            // Rules are evaluated on what this run saw, and what they decide is delivered.
            let engine = DetectionEngine(store: store, setup: setup, runtime: runtime, logger: logger)
            summary.detection = try engine.catchUp(deadline: Date() + timeouts.detection)
            summary.detectionTimeout = timeouts.detection
            summary.detectionLag = try store.detectionLag(now: Date())
            summary.detectionStage = stage.lap()
            summary.healthFired = try HealthAlertService(store: store, setups: setups, runtime: runtime, logger: logger).evaluate()
            summary.budgetFired = try BudgetAlertService(store: store, setups: setups, logger: logger).evaluate()
            try ReportScheduleService(store: store, setups: setups, logger: logger).queueDue()
            if isInterrupted() {
                // What the rules decided is in the outbox: the next run or the daemon delivers it.
                summary.interruptedDuring = "detection"
            } else if !setup.receivers.isEmpty {
                let delivery = AlertDeliveryService(store: store, setups: setups, runtime: runtime, logger: logger)
                summary.notifications = await delivery.drain(timeout: timeouts.notifications)
            }
            summary.notificationStage = stage.lap()
            summary.firingAlerts = try store.firingAlertCount()
        } catch {
            try? await transport.shutdown()
            throw error
        }
        try? await transport.shutdown()
        return summary
    }
}

/// Wall and CPU time between laps, for the `--once` stages.
struct StageClock {
    private var wall = Date()
    private var cpu = StageClock.processCPUSeconds()

    mutating func lap() -> Daemon.OnceSummary.Stage {
        let (nowWall, nowCPU) = (Date(), Self.processCPUSeconds())
        defer { (wall, cpu) = (nowWall, nowCPU) }
        return .init(seconds: nowWall.timeIntervalSince(wall), cpuSeconds: nowCPU - cpu)
    }

    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// What a running `evald run --once` has done so far, stored with its heartbeat for `evald status`.
public struct OnceProgress: Sendable, Equatable {
    public var stage: String
    public var linesRead: Int64 = 0
    public var sampled: Int64 = 0
    public var judged = 0
    public var judgeErrors = 0
    public var stillQueued = 0

    public init(stage: String, linesRead: Int64 = 0, sampled: Int64 = 0, judged: Int = 0, judgeErrors: Int = 0, stillQueued: Int = 0) {
        self.stage = stage
        self.linesRead = linesRead
        self.sampled = sampled
        self.judged = judged
        self.judgeErrors = judgeErrors
        self.stillQueued = stillQueued
    }

    public var json: JSONValue {
        .object([
            ("stage", .string(stage)), ("lines_read", .int(linesRead)), ("sampled", .int(sampled)), ("judged", .int(Int64(judged))),
            ("judge_errors", .int(Int64(judgeErrors))), ("still_queued", .int(Int64(stillQueued))),
        ])
    }
}
