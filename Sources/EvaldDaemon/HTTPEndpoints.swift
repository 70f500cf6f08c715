import EvaldCore
import EvaldReports
import EvaldStore
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The HTTP listener (`http.listen`): `/metrics` (Prometheus text format),
/// `/healthz` (200 while the spool loop makes progress; 503 when it is stuck, when its commits
/// fail or when the spool directory cannot be listed, with the reason) and
/// `/api/v1/status` (the JSON of `evald status`).
public enum HTTPEndpoints {
    /// `host:port` (or `[v6]:port`) split for the server.
    public static func address(_ listen: String) -> (host: String, port: Int)? {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    public static func makeApplication(
        store: StateStore, setups: SetupSource, metrics: DaemonMetrics, runtime: DaemonRuntime,
        logger: Logger
    ) -> (any Service)? {
        // The listener is bound once: a reload that changes http.listen needs a restart.
        let config = setups.current.config
        guard let listen = config.http.listen, let (host, port) = address(listen) else { return nil }
        let router = Router()
        let stallLimit = max(30, 3 * config.spool.pollInterval)
        router.get("/healthz") { _, _ -> Response in
            let now = Date()
            let idle = now.timeIntervalSince(runtime.lastProgress)
            if idle >= stallLimit {
                return text("stalled: the spool loop has made no progress for \(Int(idle)) s\n", status: .serviceUnavailable)
            }
            // Alive but failing: say so, rather than "ok" while nothing is committed.
            if let failure = runtime.pollFailure {
                let what = failure.store ? "state database writes failing" : "spool directory unreadable"
                return text("\(what) for \(Int(now.timeIntervalSince(failure.since))) s: \(failure.reason)\n", status: .serviceUnavailable)
            }
            return text("ok\n")
        }
        // The reports read SQLite: built on the blocking executor, so a scrape never holds a
        // cooperative thread (and /healthz never waits behind one), from the daemon's own
        // database and the ingest loop's view of the spool, not a new pool and a directory
        // listing per scrape.
        let gather = { @Sendable (monitors: [String: SeriesMonitor]?) throws -> StatusReport in
            try StatusReport.gather(config: setups.current.config, store: store, spool: runtime.spoolSnapshot, monitors: monitors)
        }
        router.get("/metrics") { _, _ -> Response in
            // The detectors' monitors are read once for the status gauges and the quality ones.
            let (status, levels) = await BlockingExecutor.shared.run {
                let monitors = MetricsReport.monitors(store)
                return (try? gather(monitors), try? MetricsReport.qualityLevels(store: store, now: Date(), monitors: monitors))
            }
            return text(metrics.render(status: status, levels: levels ?? []), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/api/v1/status") { _, _ -> Response in
            do {
                let status = try await BlockingExecutor.shared.run { try gather(nil) }
                return text(status.json.serialized(pretty: true) + "\n", contentType: "application/json")
            } catch {
                return text(#"{"error": "status unavailable"}"# + "\n", status: .internalServerError, contentType: "application/json")
            }
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "evald"),
            onServerRunning: { channel in
                // With port 0 the kernel picks one: say which.
                logger.info(
                    "http.listening",
                    metadata: [
                        "http.address": "\(channel.localAddress.map { "\($0)" } ?? listen)",
                        "http.port": "\(channel.localAddress?.port ?? port)",
                    ])
            },
            logger: logger)
    }

    static func text(_ body: String, status: HTTPResponse.Status = .ok, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
