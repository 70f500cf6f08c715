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

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
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

            let amPort = try Self.freePort()
            let h = try EvaldHarness(
                config: """
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
            let am = Process()
            am.executableURL = URL(fileURLWithPath: alertmanager)
            am.arguments = [
                "--config.file=\(h.root)/alertmanager.yml", "--storage.path=\(h.root)/am-data",
                "--web.listen-address=127.0.0.1:\(amPort)", "--cluster.listen-address=", "--log.level=warn",
            ]
            am.standardOutput = FileHandle.nullDevice
            am.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try am.run()
            defer { am.terminate(); am.waitUntilExit() }

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
            let up = LockedFlag()
            let hook = try await StubHTTPServer.start { _ in up.isSet ? .respond(status: 200, body: []) : .closeConnection }
            defer { Task { try? await hook.stop() } }
            let h = try EvaldHarness(
                config: """
                    alerts:
                      max_backoff: 300ms
                      receivers:
                        - {name: hook, kind: webhook, url: "\(hook.baseURL)/hook"}
                    """)
            // Stored while the receiver is down; the daemon is killed before it can send.
            let alert = try Self.fire(h, receivers: ["hook"])
            for round in 0..<3 {
                let daemon = try h.startDaemon(logName: "daemon-\(round).log")
                usleep(700_000)
                kill(daemon.processIdentifier, SIGKILL)
                daemon.waitUntilExit()
            }
            #expect(try h.store().notifications(alertID: alert.id).first?.sentAt == nil)
            let beforeUp = hook.requests.count
            up.set()
            let daemon = try h.startDaemon(logName: "daemon-final.log")
            #expect(try h.waitUntil(timeout: 30) { try h.store().notifications(alertID: alert.id).first?.sentAt != nil })
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
            // Sent and recorded: a restart sends nothing again.
            let again = try h.startDaemon(logName: "daemon-again.log")
            usleep(2_500_000)
            kill(again.processIdentifier, SIGTERM)
            again.waitUntilExit()
            // Every request after the receiver came up got a 2xx: exactly one delivery, none lost.
            #expect(hook.requests.count - beforeUp == 1)
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
