import EvaldCore
import EvaldHTTP
import EvaldStore
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Talks to systemd: STATUS= every few seconds, WATCHDOG=1 at half of `$WATCHDOG_USEC` but
/// only while the ingest loop shows progress (a stuck loop lets the watchdog restart us),
/// and STOPPING=1 as soon as a graceful shutdown begins.
public struct SystemdService: Service {
    let notifier: SystemdNotifier
    let runtime: DaemonRuntime
    let logger: Logger
    let watchdog: Double?

    public init(notifier: SystemdNotifier, runtime: DaemonRuntime, logger: Logger, watchdog: Double?) {
        self.notifier = notifier
        self.runtime = runtime
        self.logger = logger
        self.watchdog = watchdog
    }

    public func run() async throws {
        let interval = min(watchdog.map { $0 / 2 } ?? 5, 5)
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                var fields = ["STATUS=\(runtime.statusLine)"]
                if let watchdog {
                    // The ingest loop marks progress at least every poll interval (busy polls
                    // yield every 0.5 s); silence longer than the watchdog means it is stuck.
                    if Date().timeIntervalSince(runtime.lastProgress) < watchdog {
                        fields.append("WATCHDOG=1")
                    } else {
                        logger.warning("watchdog.withheld", metadata: ["reason": "the spool loop made no progress for \(watchdog) s"])
                    }
                }
                notifier.notify(fields)
                do { try await Task.sleep(for: .seconds(interval)) } catch { break }
            }
        }
        notifier.notify(["STOPPING=1", "STATUS=stopping"])
    }
}

/// SIGHUP: reload the config (and the checks it names); a config with any error is refused,
/// logged and counted, and the running one stays in force.
public struct ReloadService: Service {
    let configPath: String
    let setups: SetupSource
    let runtime: DaemonRuntime
    let notifier: SystemdNotifier
    let logger: Logger
    let signals: UnixSignalsSequence
    let transport: HTTPTransport

    /// `signals` must trap SIGHUP before READY=1 is sent: a reload that arrives before the
    /// handler exists would end the process (SIGHUP's default action).
    public init(
        configPath: String, setups: SetupSource, runtime: DaemonRuntime, notifier: SystemdNotifier, logger: Logger,
        signals: UnixSignalsSequence, transport: HTTPTransport
    ) {
        self.configPath = configPath
        self.setups = setups
        self.runtime = runtime
        self.notifier = notifier
        self.logger = logger
        self.signals = signals
        self.transport = transport
    }

    public func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            notifier.notify(["RELOADING=1", SystemdNotifier.monotonicMicroseconds(), "STATUS=reloading \(configPath)"])
            // Reading the files, building judge clients and loading secrets block: off the pool.
            await BlockingExecutor.shared.run { reload() }
            notifier.notify(["READY=1", "STATUS=\(runtime.statusLine)"])
        }
    }

    private func reload() {
        do {
            let (config, _) = try EvaldConfig.load(path: configPath, environment: ProcessInfo.processInfo.environment)
            guard config.stateDir == setups.current.config.stateDir else {
                throw ConfigErrors([
                    ConfigProblem(file: configPath, line: nil, key: "state_dir", message: "cannot change on reload; restart evald to move its state")
                ])
            }
            let checks = try Daemon.makeCheckPlan(config)
            let roster = try Daemon.makeJudgeRoster(config, transport: transport, logger: logger)
            let receivers = try Daemon.makeReceivers(config, transport: transport)
            // Everything is built before it is published: a reload applies whole or not at all.
            setups.publish(config: config, checks: checks, roster: roster, receivers: receivers)
            runtime.countReload()
            logger.info("config.reloaded", metadata: ["config": "\(configPath)"])
        } catch {
            runtime.countRefusedReload()
            logger.error(
                "config.reload_refused", metadata: ["config": "\(configPath)", "error": "\(error)", "action": "the previous configuration stays in force"])
        }
    }
}
