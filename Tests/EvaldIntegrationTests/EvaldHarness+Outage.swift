import EvaldTesting
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A webhook receiver named `hook` that is down (drops every connection) until `comeUp()`,
/// then answers 200: the receiver outage the outbox tests deliver across.
struct OutageWebhook {
    let server: StubHTTPServer
    private let up: LockedFlag

    private init(server: StubHTTPServer, up: LockedFlag) {
        self.server = server
        self.up = up
    }

    static func start() async throws -> OutageWebhook {
        let up = LockedFlag()
        let server = try await StubHTTPServer.start { _ in up.isSet ? .respond(status: 200, body: []) : .closeConnection }
        return OutageWebhook(server: server, up: up)
    }

    /// The `alerts:` section naming it, with a short backoff so retries come soon after it is up.
    var alertsConfig: String { EvaldHarness.webhookAlertsConfig(["hook": "\(server.baseURL)/hook"]) }

    func comeUp() { up.set() }

    func stop() { Task { try? await server.stop() } }
}

/// A daily `report:` schedule whose period ended one to two hours ago: periods end at the
/// last whole hour (UTC) but one, so the next one ends 22 hours from now at least.
struct DailyReportSchedule {
    static let hour = 3600.0
    static let day = 86400.0
    /// The end of the period the test expects delivered (Unix seconds).
    let periodEnd: Double

    init(now: Date = Date()) {
        periodEnd = (now.timeIntervalSince1970 / Self.hour).rounded(.down) * Self.hour - Self.hour
    }

    func config(receivers: [String]) -> String {
        let at = String(format: "%02d:00", Int(periodEnd.truncatingRemainder(dividingBy: Self.day) / Self.hour))
        return "report: {every: 1d, at: \"\(at)\", timezone: UTC, receivers: [\(receivers.joined(separator: ", "))]}"
    }
}

extension EvaldHarness {
    /// An `alerts:` section with webhook receivers (name: URL, in name order) and a short
    /// `max_backoff`, so retries come soon.
    static func webhookAlertsConfig(_ hooks: [String: String], maxBackoff: String = "300ms") -> String {
        (["alerts:", "  max_backoff: \(maxBackoff)", "  receivers:"]
            + hooks.sorted { $0.key < $1.key }.map { "    - {name: \($0.key), kind: webhook, url: \"\($0.value)\"}" })
            .joined(separator: "\n")
    }

    /// Starts the daemon `rounds` times, each killed with SIGKILL after `seconds`: a crash
    /// whatever it was doing.
    func killDaemon(rounds: Int, after seconds: Double) throws {
        for round in 0..<rounds {
            let daemon = try startDaemon(logName: "daemon-\(round).log")
            usleep(UInt32(seconds * 1_000_000))
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
        }
    }

    /// What `deliverAfterOutage` saw.
    struct OutageDelivery {
        /// Whether `sent` held before the timeout.
        var delivered: Bool
        /// The requests the webhook got from the moment it came up.
        var requestsWhileUp: [StubHTTPServer.Request]
        /// Requests made by the daemon started after the delivery was recorded (should be none).
        var requestsAfterRestart: Int
    }

    /// The receiver comes up; a daemon runs until `sent` holds and is killed with SIGKILL; one
    /// more daemon runs `settle` seconds and stops (SIGTERM), so a delivery recorded as sent is
    /// seen not to be sent again.
    func deliverAfterOutage(_ hook: OutageWebhook, settle: Double, until sent: () throws -> Bool) throws -> OutageDelivery {
        let beforeUp = hook.server.requests.count
        hook.comeUp()
        let daemon = try startDaemon(logName: "daemon-up.log")
        let delivered = try waitUntil(timeout: 30, sent)
        kill(daemon.processIdentifier, SIGKILL)
        daemon.waitUntilExit()
        let afterSent = hook.server.requests.count
        let again = try startDaemon(logName: "daemon-again.log")
        usleep(UInt32(settle * 1_000_000))
        kill(again.processIdentifier, SIGTERM)
        again.waitUntilExit()
        return OutageDelivery(
            delivered: delivered, requestsWhileUp: Array(hook.server.requests.dropFirst(beforeUp)),
            requestsAfterRestart: hook.server.requests.count - afterSent)
    }
}
