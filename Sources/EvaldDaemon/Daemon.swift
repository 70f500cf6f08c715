import EvaldCore
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

    static func makeReader(_ config: EvaldConfig, store: StateStore, logger: Logger) throws -> SpoolReader {
        SpoolReader(settings: .init(config.spool), store: store,
                    classifier: LineClassifier(config: config),
                    checks: try makeCheckPlan(config),
                    onEvent: { $0.log(to: logger) })
    }

    /// The configured checks, with their schema files read from disk.
    public static func makeCheckPlan(_ config: EvaldConfig) throws(ConfigErrors) -> CheckPlan {
        try CheckPlan(config: config, readFile: { try String(contentsOfFile: $0, encoding: .utf8) })
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
        let reader = try makeReader(config, store: store, logger: logger)
        let runtime = DaemonRuntime()
        // Metrics recorded through swift-metrics (by evald or a library) land in the same registry.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: runtime.metrics.registry))
        let notifier = SystemdNotifier(environment: environment)
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        // Graceful shutdown runs in reverse: systemd hears STOPPING=1 first, the heartbeat stops last.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: HeartbeatService(store: store, logger: logger), successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: SpoolIngestService(reader: reader, pollInterval: config.spool.pollInterval, logger: logger, runtime: runtime),
                  successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: RetentionService(store: store, retention: config.retention, logger: logger),
                  successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: ReloadService(configPath: config.sourcePath, current: config, runtime: runtime, notifier: notifier, logger: logger,
                                         signals: hangups),
                  successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: SystemdService(notifier: notifier, runtime: runtime, logger: logger,
                                          watchdog: SystemdNotifier.watchdogInterval(environment: environment)),
                  successTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if let http = HTTPEndpoints.makeApplication(config: config, metrics: runtime.metrics, runtime: runtime, logger: logger) {
            // After the ingest services, so it stops first and scrapes never see a half-stopped daemon.
            services.insert(.init(service: http, successTerminationBehavior: .gracefullyShutdownGroup), at: 3)
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
        logger.info("evald.stopped")
    }

    /// `evald run --once`: reads what the spool holds now and returns.
    public static func runOnce(config: EvaldConfig, logger: Logger) throws -> SpoolPollSummary {
        let lock = try StateDirectoryLock(stateDir: config.stateDir)
        defer { withExtendedLifetime(lock) {} }
        let store = try StateStore.open(path: config.databasePath)
        let pid = ProcessInfo.processInfo.processIdentifier
        let startedAt = Date()
        try store.recordHeartbeat(pid: pid, hostname: ProcessInfo.processInfo.hostName, startedAt: startedAt, at: startedAt, version: EvaldVersion.current)
        defer { try? store.recordStop(pid: pid, at: Date()) }
        let reader = try makeReader(config, store: store, logger: logger)
        var total = SpoolPollSummary()
        while true {
            let summary = try reader.poll()
            total.bytesRead += summary.bytesRead
            total.counts += summary.counts
            if summary.caughtUp, summary.bytesRead == 0 { break }
        }
        return total
    }
}
