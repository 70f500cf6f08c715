import Crypto
import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Alerts end to end: the real binary, its outbox in a real database, receivers on 127.0.0.1,
/// and a real Prometheus Alertmanager.
@Suite(.serialized) struct AlertIntegrationTests {
    static let secret = "whsec-test-3b1f9c0d2e4a"

    /// A 127.0.0.1 port free a moment ago, for a server that binds it itself.
    static func freePort() throws -> Int {
        let held = try StubJudgeServer.refusingPort()
        held.close()
        return held.port
    }

    /// Starts Alertmanager on a port found free and waits until it answers. It binds the port
    /// itself, some time after the port was found free: if another test's server took it
    /// meanwhile, Alertmanager exits, and another port is tried.
    static func startAlertmanager(_ executable: String, root: String) throws -> (Process, Int) {
        for attempt in 0..<3 {
            let port = try freePort()
            let am = Process()
            am.executableURL = URL(fileURLWithPath: executable)
            am.arguments = [
                "--config.file=\(root)/alertmanager.yml", "--storage.path=\(root)/am-data-\(attempt)",
                "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address=", "--log.level=warn",
            ]
            am.standardOutput = FileHandle.nullDevice
            am.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try am.run()
            let deadline = Date().addingTimeInterval(30)
            while am.isRunning, Date() < deadline {
                // Its own status, not merely a 200 from whatever listens there.
                if FaultTests.get(port, "/api/v2/status").body.contains("versionInfo") { return (am, port) }
                Thread.sleep(forTimeInterval: 0.2)
            }
            if am.isRunning { am.terminate() }
            am.waitUntilExit()
        }
        throw AlertmanagerDidNotStart()
    }

    struct AlertmanagerDidNotStart: Error, CustomStringConvertible {
        var description: String { "Alertmanager did not answer on any of 3 ports within 30 s each" }
    }

    /// A test firing straight into the store, as the detectors do: the outbox is the contract.
    /// An alert stored by hand, for the delivery path. Its name is none the daemon's own
    /// services raise: those resolve, at start, any alert of theirs that no state holds open.
    static func fire(_ h: EvaldHarness, receivers: [String], name: String = "DeliveryTest") throws -> StoredAlert {
        let labels = ["alertname": name, "severity": "critical", "route": "support-chat", "model": "gpt-4o-mini", "metric": "judge:helpfulness"]
        let firing = AlertFiring(
            name: name, severity: "critical", labels: labels,
            annotations: ["summary": "helpfulness dropped", "description": "baseline 0.90, current 0.78, n 400"],
            fingerprint: AlertFingerprint.of(labels), numbers: ["baseline": 0.9, "current": 0.78, "n": 400])
        return try #require(try h.store().fireAlert(firing, receivers: receivers, at: Date()))
    }

    func webhookBodies(_ server: StubHTTPServer, path: String) -> [[String: Any]] {
        server.requests.filter { $0.path == path }.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any] }
    }

    @Test func aRealAlertmanagerDeliversEvaldsFiringAndResolvedAlerts() async throws {
        try await onTestThreads {
            guard let alertmanager = ["/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"].first(where: FileManager.default.isExecutableFile) else {
                Issue.record("prometheus-alertmanager is not installed (.ci/run installs it)")
                return
            }
            let recorder = try await StubHTTPServer.start { _ in .respond(status: 200, body: Array("ok".utf8)) }
            defer { Task { try? await recorder.stop() } }
            let judge = try await StubJudgeServer.start { _ in "I cannot grade this." }
            defer { Task { try? await judge.stop() } }

            let h = try EvaldHarness()
            try """
            route:
              receiver: recorder
              group_by: [alertname]
              group_wait: 1s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: recorder
                webhook_configs:
                  - url: "\(recorder.baseURL)/am"
                    send_resolved: true
            """.write(toFile: h.root + "/alertmanager.yml", atomically: true, encoding: .utf8)
            let (am, amPort) = try Self.startAlertmanager(alertmanager, root: h.root)
            defer { am.terminate(); am.waitUntilExit() }
            try h.configure(
                """
                endpoints:
                  default: {kind: openai, base_url: "\(judge.baseURL)/v1", model: judge, timeout: 10s}
                judge: {dir: judges}
                alerts:
                  max_backoff: 1s
                  runbook_url: https://wiki.example.com/evald/{{alertname}}
                  receivers:
                    - {name: am, kind: alertmanager, url: "http://127.0.0.1:\(amPort)", resend_interval: 2s}
                """)
            try FileManager.default.createDirectory(atPath: h.root + "/judges", withIntermediateDirectories: true)
            try """
            ---
            name: helpfulness
            version: 1
            scale: {min: 1, max: 5}
            ---
            Grade: {{output}}
            Reply with JSON only: {"score": <1-5>, "reason": "<one sentence>"}
            """.write(toFile: h.root + "/judges/helpfulness.md", atomically: true, encoding: .utf8)
            // Judge errors on every trace: JudgeFailing fires.
            try h.append("a.jsonl", (0..<12).map(EvaldHarness.line).joined())
            let daemon = try h.startDaemon()
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            #expect(try h.waitUntil(timeout: 60) { webhookBodies(recorder, path: "/am").contains { $0["status"] as? String == "firing" } })
            let fired = try #require(webhookBodies(recorder, path: "/am").first { $0["status"] as? String == "firing" })
            let alert = try #require((fired["alerts"] as? [[String: Any]])?.first)
            let labels = alert["labels"] as? [String: String]
            #expect(labels?["alertname"] == "JudgeFailing")
            #expect(labels?["metric"] == "judge:helpfulness")
            #expect(labels?["severity"] == "warning")
            #expect((alert["annotations"] as? [String: String])?["runbook_url"] == "https://wiki.example.com/evald/JudgeFailing")
            let alerts = try h.run(["alerts", "--json"])
            #expect(alerts.code == 1)
            #expect(((alerts.json["alerts"] as? [[String: Any]])?.first?["alertname"] as? String) == "JudgeFailing")

            // The judge recovers; good verdicts outnumber the errors and the alert resolves.
            judge.enqueue(Array(repeating: .answer(#"{"score": 5, "reason": "good"}"#), count: 100))
            try h.append("a.jsonl", (100..<120).map(EvaldHarness.line).joined())
            #expect(try h.waitUntil(timeout: 60) { webhookBodies(recorder, path: "/am").contains { $0["status"] as? String == "resolved" } })
            let resolved = try #require(webhookBodies(recorder, path: "/am").first { $0["status"] as? String == "resolved" })
            #expect(((resolved["alerts"] as? [[String: Any]])?.first?["labels"] as? [String: String])?["alertname"] == "JudgeFailing")
            #expect(try h.run(["alerts"]).code == 0)
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
        }
    }

    @Test func aWebhookThatFailsFiveTimesGetsEachNotificationOnceAndSigned() async throws {
        try await onTestThreads {
            let attempts = LockedCounter()
            let hook = try await StubHTTPServer.start { _ in
                attempts.increment() <= 5 ? .respond(status: 503, body: Array("busy".utf8)) : .respond(status: 200, body: [])
            }
            defer { Task { try? await hook.stop() } }
            let h = try EvaldHarness(
                config: """
                    alerts:
                      max_backoff: 500ms
                      receivers:
                        - {name: hook, kind: webhook, url: "\(hook.baseURL)/hook", hmac_secret_env: EVALD_TEST_WEBHOOK_SECRET}
                    """)
            let env = ["EVALD_TEST_WEBHOOK_SECRET": Self.secret]
            let daemon = try h.startDaemon(environment: env)
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            #expect(try h.waitUntil { (try h.status()["daemon"] as? [String: Any])?["running"] as? Bool == true })
            let alert = try Self.fire(h, receivers: ["hook"])
            #expect(
                try h.waitUntil(timeout: 60) { try h.store().notifications(alertID: alert.id).first?.sentAt != nil },
                "\((try? String(contentsOfFile: h.root + "/daemon.log", encoding: .utf8)) ?? "")")
            try h.store().resolveAlert(id: alert.id, receivers: ["hook"], at: Date())
            #expect(try h.waitUntil(timeout: 30) { try h.store().notifications(alertID: alert.id).allSatisfy { $0.sentAt != nil } })
            usleep(1_500_000)  // nothing more may arrive
            let bodies = hook.requests
            // 5 failures + the firing notification + the resolved one; each delivered (2xx) once.
            #expect(bodies.count == 7)
            let delivered = bodies.suffix(2).compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any] }
            #expect(delivered.map { $0["status"] as? String } == ["firing", "resolved"])
            #expect(delivered.allSatisfy { $0["version"] as? String == "4" })
            // Each body is signed: t=<unix>,v1=<hex HMAC-SHA256(secret, "<unix>.<body>")>.
            for request in bodies {
                let header = try #require(request.header("X-Evald-Signature"))
                let parts = Dictionary(
                    uniqueKeysWithValues: header.split(separator: ",").map { $0.split(separator: "=", maxSplits: 1).map(String.init) }.map { ($0[0], $0[1]) })
                let t = try #require(parts["t"]), v1 = try #require(parts["v1"])
                let mac = HMAC<SHA256>.authenticationCode(for: Data((t + ".").utf8) + Data(request.body), using: SymmetricKey(data: Data(Self.secret.utf8)))
                #expect(mac.map { String(format: "%02x", $0) }.joined() == v1)
            }
            let status = try h.run(["status", "--json"])
            #expect(!status.stdout.contains(Self.secret))
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            let log = try String(contentsOfFile: h.root + "/daemon.log", encoding: .utf8)
            #expect(!log.contains(Self.secret))
            #expect(!log.contains(hook.baseURL))
        }
    }

    @Test func killBetweenStoringAndSendingLosesNothingAndDuplicatesNothing() async throws {
        try await onTestThreads {
            let hook = try await OutageWebhook.start()
            defer { hook.stop() }
            let h = try EvaldHarness(config: hook.alertsConfig)
            // Stored while the receiver is down; the daemon is killed before it can send.
            let alert = try Self.fire(h, receivers: ["hook"])
            try h.killDaemon(rounds: 3, after: 0.7)
            #expect(try h.store().notifications(alertID: alert.id).first?.sentAt == nil)
            let outcome = try h.deliverAfterOutage(hook, settle: 2.5) {
                try h.store().notifications(alertID: alert.id).first?.sentAt != nil
            }
            #expect(outcome.delivered)
            // Every request after the receiver came up got a 2xx: exactly one delivery, none lost;
            // sent and recorded, so a restart sends nothing again.
            #expect(outcome.requestsWhileUp.count == 1)
            #expect(outcome.requestsAfterRestart == 0)
            #expect(try h.store().counters()["notifications_sent"] == 1)
        }
    }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func increment() -> Int {
        lock.withLock {
            value += 1; return value
        }
    }
}

final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    func clear() { lock.withLock { value = false } }
    var isSet: Bool { lock.withLock { value } }
}
