import EvaldAlerting
import EvaldCore
import EvaldHTTP
import EvaldSpool
import EvaldStore
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals

/// Builds and runs evald's services from a configuration.
public enum Daemon {
    public static func makeLogger(_ config: EvaldConfig?) -> Logger {
        let level = Logger.Level(configName: config?.logLevel ?? "info")
        return Logger(label: "evald") { label in LogfmtLogHandler(label: label, level: level) }
    }

    static func makeReader(_ config: EvaldConfig, store: StateStore, judges: JudgeRouting, logger: Logger) throws -> SpoolReader {
        SpoolReader(settings: .init(config.spool), store: store,
                    classifier: LineClassifier(config: config),
                    checks: try makeCheckPlan(config), judges: judges,
                    onEvent: { $0.log(to: logger) })
    }

    /// The judges of a configuration; problems with API keys are logged (their judges are skipped).
    static func makeJudgeRoster(_ config: EvaldConfig, transport: HTTPTransport, logger: Logger) throws(ConfigErrors) -> JudgeRoster {
        let (roster, warnings) = try JudgeRoster.build(config: config, transport: transport)
        for warning in warnings {
            logger.error("judge.endpoint_unavailable", metadata: ["error": "\(warning)", "action": "its judges are skipped until the key is provided and evald reloaded"])
        }
        for member in roster.members {
            logger.info("judge.loaded", metadata: ["judge": "\(member.rubric.identity)", "judge.endpoint": "\(member.endpointName ?? "-")",
                                                   "judge.state": "\(member.client == nil ? "skipped" : "ready")"])
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
    public static func makeReceivers(_ config: EvaldConfig, transport: HTTPTransport,
                                     environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigErrors) -> [any AlertReceiver] {
        do {
            return try AlertReceivers.build(config: config.alerts, configDirectory: (config.sourcePath as NSString).deletingLastPathComponent,
                                            transport: transport, environment: environment,
                                            externalURL: config.http.listen.map { "http://\($0)" } ?? "http://evald.local")
        } catch {
            throw ConfigErrors([ConfigProblem(file: config.sourcePath, line: nil, key: error.key, message: error.message)])
        }
    }

    /// The daemon: every long-running loop as a `Service` in one group, in dependency order
    /// (graceful shutdown runs in reverse). SIGTERM and SIGINT stop it gracefully.
    public static func run(config: EvaldConfig, logger: Logger, environment: [String: String] = ProcessInfo.processInfo.environment) async throws {
        let lock = try StateDirectoryLock(stateDir: config.stateDir)
        defer { withExtendedLifetime(lock) {} }
        let store = try StateStore.open(path: config.databasePath)
        if !FileManager.default.fileExists(atPath: config.spool.dir) {
            logger.warning("spool.dir_missing", metadata: ["spool.dir": "\(config.spool.dir)", "action": "waiting for it to appear"])
        }
        let transport = HTTPTransport()
        let roster = try makeJudgeRoster(config, transport: transport, logger: logger)
        let receivers = try makeReceivers(config, transport: transport)
        let reader = try makeReader(config, store: store, judges: roster.routing, logger: logger)
        let runtime = DaemonRuntime()
        runtime.setJudgeSeries(roster)
        // Metrics recorded through swift-metrics (by evald or a library) land in the same registry.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: runtime.metrics.registry))
        let notifier = SystemdNotifier(environment: environment)
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        // Graceful shutdown runs in reverse: systemd hears STOPPING=1 first, the heartbeat stops last.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: HeartbeatService(store: store, logger: logger), successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: SpoolIngestService(reader: reader, config: config, logger: logger, runtime: runtime),
                  successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: JudgeService(store: store, roster: roster, runtime: runtime, logger: logger),
                  successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: DetectionService(store: store, config: config, receivers: receivers, runtime: runtime, logger: logger),
                  successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: HealthAlertService(store: store, config: config, receivers: receivers, runtime: runtime, logger: logger),
                  successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: AlertDeliveryService(store: store, receivers: receivers, config: config.alerts, runtime: runtime, logger: logger),
                  successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: RetentionService(store: store, retention: config.retention, logger: logger),
                  successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: ReloadService(configPath: config.sourcePath, current: config, runtime: runtime, notifier: notifier, logger: logger,
                                         signals: hangups, transport: transport),
                  successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: SystemdService(notifier: notifier, runtime: runtime, logger: logger,
                                          watchdog: SystemdNotifier.watchdogInterval(environment: environment)),
                  successTerminationBehavior: .gracefullyShutdownGroup),
        ]
        // Always present: it idles without golden.canary, and a reload can add one.
        services.insert(.init(service: CanaryService(store: store, config: config, receivers: receivers, roster: roster, transport: transport,
                                                     runtime: runtime, logger: logger, environment: environment),
                              successTerminationBehavior: .gracefullyShutdownGroup), at: 4)
        if let http = HTTPEndpoints.makeApplication(config: config, metrics: runtime.metrics, runtime: runtime, logger: logger) {
            // After the ingest services, so it stops first and scrapes never see a half-stopped daemon.
            services.insert(.init(service: http, successTerminationBehavior: .gracefullyShutdownGroup), at: services.count - 2)
        }
        var groupConfig = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfig.maximumGracefulShutdownDuration = .seconds(config.shutdownGrace)
        let group = ServiceGroup(configuration: groupConfig)
        logger.info("evald.started", metadata: [
            "version": "\(EvaldVersion.current)", "spool.dir": "\(config.spool.dir)", "state.db": "\(config.databasePath)",
            "sampling.rate": "\(config.sampling.rate)", "sampling.shard": "\(config.sampling.shard)",
        ])
        notifier.notify(["READY=1", "STATUS=reading \(config.spool.dir)"])
        try await group.run()
        try? await transport.shutdown()
        logger.info("evald.stopped")
    }

    /// What `evald run --once` did.
    public struct OnceSummary: Sendable {
        public var spool = SpoolPollSummary()
        public var spoolSeconds: Double = 0
        /// nil when no judge can run (none configured, no endpoint): see `judgeNote`.
        public var judges: JudgeService.DrainSummary?
        public var judgeSeconds: Double = 0
        public var judgeTimeout: Double = 0
        public var judgeNote: String?
        public var notifications: AlertDeliveryService.DrainSummary?
        public var detection: DetectionService.RoundSummary?
        public var detectionSeconds: Double = 0
        public var firingAlerts = 0
    }

    /// `evald run --once`: reads what the spool holds now, then judges what is queued, waiting
    /// at most `judgeTimeout` seconds for the judges (what is left stays queued).
    public static func runOnce(config: EvaldConfig, logger: Logger, judgeTimeout: Double, notifyTimeout: Double = 60) async throws -> OnceSummary {
        let lock = try StateDirectoryLock(stateDir: config.stateDir)
        defer { withExtendedLifetime(lock) {} }
        let store = try StateStore.open(path: config.databasePath)
        let pid = ProcessInfo.processInfo.processIdentifier
        let startedAt = Date()
        try store.recordHeartbeat(pid: pid, hostname: ProcessInfo.processInfo.hostName, startedAt: startedAt, at: startedAt, version: EvaldVersion.current)
        defer { try? store.recordStop(pid: pid, at: Date()) }
        let transport = HTTPTransport()
        var summary = OnceSummary()
        do {
            let roster = try makeJudgeRoster(config, transport: transport, logger: logger)
            let receivers = try makeReceivers(config, transport: transport)
            let runtime = DaemonRuntime()
            runtime.setJudgeSeries(roster)
            let reader = try makeReader(config, store: store, judges: roster.routing, logger: logger)
            while true {
                let poll = try reader.poll()
                summary.spool.bytesRead += poll.bytesRead
                summary.spool.counts += poll.counts
                if poll.caughtUp, poll.bytesRead == 0 { break }
            }
            summary.spoolSeconds = Date().timeIntervalSince(startedAt)
            if roster.members.contains(where: { $0.client != nil }) {
                let judgingStarted = Date()
                let service = JudgeService(store: store, roster: roster, runtime: runtime, logger: logger)
                summary.judges = await service.drain(timeout: judgeTimeout)
                summary.judgeSeconds = Date().timeIntervalSince(judgingStarted)
                summary.judgeTimeout = judgeTimeout
            } else if let reason = roster.members.first?.unavailable {
                summary.judgeNote = "judges skipped: \(reason)"
            } else {
                summary.judgeNote = "no judges in \(config.judge.dir)"
            }
            // Rules are evaluated on what this run saw, and what they decide is delivered.
            let detectionStarted = Date()
            summary.detection = try DetectionService(store: store, config: config, receivers: receivers, runtime: runtime, logger: logger).catchUp()
            summary.detectionSeconds = Date().timeIntervalSince(detectionStarted)
            try HealthAlertService(store: store, config: config, receivers: receivers, runtime: runtime, logger: logger).evaluate()
            if !receivers.isEmpty {
                let delivery = AlertDeliveryService(store: store, receivers: receivers, config: config.alerts, runtime: runtime, logger: logger)
                summary.notifications = await delivery.drain(timeout: notifyTimeout)
            }
            summary.firingAlerts = try store.firingAlertCount()
        } catch {
            try? await transport.shutdown()
            throw error
        }
        try? await transport.shutdown()
        return summary
    }
}
