import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Production budgets through the real binary: a false-alarm budget of ten years on
/// near-perfect series, and a daemon catching up on a large detection backlog while it must
/// keep answering health checks, feeding the watchdog and stopping on time.
@Suite(.serialized) struct ProductionLoadIntegrationTests {
    static let rubric = """
        ---
        name: helpfulness
        version: 1
        applies_to: ["*"]
        scale: {min: 1, max: 5}
        pass_at: 4
        ---
        Grade the answer.
        Question: {{last_user_message}}
        Answer: {{output}}
        Reply with JSON only: {"score": <1-5>, "reason": "<one sentence>"}
        """

    /// One call every 0.25 s of trace time; `broken` answers fail the `valid-json` check and
    /// are graded 2 by the stub judge.
    static func record(_ n: Int, broken: Bool) -> String {
        let ts = RFC3339.format(Date(timeIntervalSince1970: 1_795_824_000 + Double(n) / 4), fractional: true)
        let output = broken ? "Sorry, BROKEN answer for order \(n)" : #"{\"order\": \#(n), \"status\": \"shipped\"}"#
        return
            #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"\#(ts)","route":"extract-order","model":"gpt-4o-mini","input":[{"role":"user","content":"Extract order \#(n)"}],"output":"\#(output)","latency_ms":\#(600 + n % 200),"cost_usd":0.0004}"#
            + "\n"
    }

    @Test func aTenYearBudgetOnNearPerfectSeriesCompletesAndALaterRegressionStillFiresAndIsDelivered() async throws {
        try await onTestThreads {
            // Nearly every answer gets a 5; one in 97 a 4 (a near-perfect judge, as in production).
            let judge = try await StubJudgeServer.start { prompt in
                if prompt.contains("BROKEN") { return #"{"score": 2, "reason": "wrong"}"# }
                return prompt.utf8.reduce(0) { $0 &+ Int($1) } % 97 == 0 ? #"{"score": 4, "reason": "fine"}"# : #"{"score": 5, "reason": "good"}"#
            }
            defer { Task { try? await judge.stop() } }
            let hook = try await StubHTTPServer.start { _ in .respond(status: 200, body: []) }
            defer { Task { try? await hook.stop() } }
            let h = try EvaldHarness(
                config: """
                    checks:
                      "*":
                        - {name: valid-json, kind: json_valid}
                    endpoints:
                      default: {kind: openai, base_url: "\(judge.baseURL)/v1", model: judge-model, api_key_env: EVALD_TEST_JUDGE_KEY, concurrency: 16}
                    judge:
                      dir: judges
                    detection: {false_alarm_every: 3650d, baseline_min_samples: 300}
                    alerts:
                      max_backoff: 500ms
                      receivers:
                        - {name: hook, kind: webhook, url: "\(hook.baseURL)/hook"}
                    """, rate: 0.2)
            try FileManager.default.createDirectory(atPath: h.root + "/judges", withIntermediateDirectories: true)
            try Self.rubric.write(toFile: h.root + "/judges/helpfulness.md", atomically: true, encoding: .utf8)
            let env = ["EVALD_TEST_JUDGE_KEY": "sk-test-0123456789abcdef"]

            // An hour of steady, near-perfect traffic.
            try h.append("traces.jsonl", (0..<8_000).map { Self.record($0, broken: false) }.joined())
            let steady = try h.run(["run", "--once", "--json"], environment: env)
            #expect(steady.code == 0, "\(steady.stderr)")
            let sampled = try #require((steady.json["spool"] as? [String: Any])?["sampled"] as? Int)
            let detection = try #require(steady.json["detection"] as? [String: Any])
            #expect(sampled > 1_400)
            #expect(detection["evaluations"] as? Int == sampled)
            #expect(detection["remaining"] as? Int == 0)
            #expect(detection["remaining_calls"] as? Int == 0, "every call fed to the op: series")
            #expect((detection["judge_scores"] as? Int ?? 0) > 1_400, "the judge's scores reached the detectors")
            #expect(detection["fired"] as? Int == 0, "no false alarm on steady traffic")
            #expect((detection["designs"] as? Int ?? 0) > 0, "the series armed")
            for stage in ["spool", "judges", "detection", "notifications"] {
                #expect((steady.json[stage] as? [String: Any])?["seconds"] is Double, "\(stage) reports its time")
            }
            let status = try h.run(["status", "--json"])
            #expect(((status.json["detection"] as? [String: Any])?["armed"] as? Int ?? 0) >= 3, "check, judge pass rate and mean score armed")
            #expect((status.json["detection"] as? [String: Any])?["lag_seconds"] as? Double == 0)

            // Then the answers break: the check fails and the judge grades them 2.
            try h.append("traces.jsonl", (8_000..<9_500).map { Self.record($0, broken: $0 % 2 == 0) }.joined())
            let broken = try h.run(["run", "--once", "--json"], environment: env)
            #expect(broken.code == 0, "\(broken.stderr)")
            #expect(((broken.json["detection"] as? [String: Any])?["fired"] as? Int ?? 0) >= 1)
            #expect(((broken.json["notifications"] as? [String: Any])?["sent"] as? Int ?? 0) >= 1)
            let alerts = hook.requests.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body))) as? [String: Any] }
                .flatMap { ($0["alerts"] as? [[String: Any]]) ?? [] }
                .compactMap { $0["labels"] as? [String: String] }
            #expect(alerts.contains { $0["alertname"] == "QualityRegression" && $0["metric"] == "check:valid-json" }, "\(alerts)")
            #expect(alerts.contains { $0["alertname"] == "QualityRegression" && $0["metric"]?.hasPrefix("judge:helpfulness") == true }, "\(alerts)")
        }
    }

    /// A backlog of 100,000 evaluations committed while detection was held back: the daemon
    /// works through it on its blocking executor while the cooperative pool keeps answering.
    @Test func healthzMetricsWatchdogAndStopStayPromptDuringALongDetectionCatchUp() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(rate: 1)
            try h.writeConfig(
                """
                state_dir: state
                spool: {dir: spool, poll_interval: 100ms}
                sampling: {rate: 1}
                http: {listen: "127.0.0.1:0"}
                shutdown_grace: 5s
                checks:
                  "*":
                    - {name: fast, kind: latency, max_ms: 4000}
                    - {name: answered, kind: not_contains, values: ["sorry"], ignore_case: true}
                    - {name: ok, kind: status_ok}
                    - {name: no-refusal, kind: refusal}
                    - {name: short, kind: length, max: 4000}
                    - {name: cheap, kind: cost, max_usd: 1}
                    - {name: faster, kind: latency, max_ms: 8000}
                    - {name: no-disclaimer, kind: not_contains, values: ["as an AI"], ignore_case: true}
                """)
            // Eight checks: each evaluation feeds eleven series, so the catch-up outlasts the probes.
            let records = 100_000
            var text = ""
            text.reserveCapacity(records * 320)
            for n in 0..<records { text += EvaldHarness.line(n) }
            try h.append("traces.jsonl", text)
            // Ingest everything, feed the detectors for at most a second: the rest is the backlog.
            let ingest = try h.run(["run", "--once", "--json", "--detection-timeout", "1s"])
            #expect(ingest.code == 0, "\(ingest.stderr)")
            let backlog = try #require((ingest.json["detection"] as? [String: Any])?["remaining"] as? Int)
            #expect(backlog > 50_000, "the daemon starts with a backlog: \(ingest.stdout)")
            // The calls left in the usage journal are those `evald status` reports.
            let leftCalls = try #require((ingest.json["detection"] as? [String: Any])?["remaining_calls"] as? Int)
            let before = try h.run(["status", "--json"])
            #expect((before.json["detection"] as? [String: Any])?["usage_backlog_calls"] as? Int == leftCalls)

            let listener = try NotifySocketListener(path: h.root + "/notify.sock")
            defer { listener.stop() }
            let daemon = try h.startDaemon(environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "2000000"])
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            let port = h.httpPort()
            #expect(port > 0)
            #expect(h.waitUntil(timeout: 20) { listener.count("READY=1") >= 1 })

            // Probe for 4 s while detection catches up: every answer within a second.
            var slowest = 0.0
            var lags: [Double] = []
            let probeEnd = Date() + 4
            while Date() < probeEnd {
                for path in ["/healthz", "/metrics"] {
                    let started = Date()
                    let (code, body) = try await Self.get(port, path)
                    slowest = max(slowest, Date().timeIntervalSince(started))
                    #expect(code == 200, "\(path): \(code)")
                    if path == "/metrics", let lag = Self.value(body, "evald_detection_lag_seconds") { lags.append(lag) }
                }
                usleep(100_000)
            }
            #expect(slowest < 1, "slowest /healthz or /metrics answer: \(slowest) s")
            #expect(lags.contains { $0 > 0 }, "the probes ran while detection was behind: \(lags.suffix(5))")

            // WATCHDOG=1 every second (half of WATCHDOG_USEC) all along.
            let pings = listener.timestamps("WATCHDOG=1")
            #expect(pings.count >= 4)
            let gaps = zip(pings.dropFirst(), pings).map { $0 - $1 }
            #expect((gaps.max() ?? 0) < 2, "longest silence between WATCHDOG=1: \(gaps.max() ?? 0) s")

            // SIGTERM mid-catch-up: stopped within shutdown_grace, exit 0, progress committed.
            let remainingBefore = try h.store().evaluationCount(after: Self.cursor(h))
            #expect(remainingBefore > 0, "still catching up when stopped")
            let stopAt = Date()
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(Date().timeIntervalSince(stopAt) < 5, "stopped in \(Date().timeIntervalSince(stopAt)) s")
            #expect(daemon.terminationReason == .exit && daemon.terminationStatus == 0)
            #expect(try h.store().evaluationCount(after: Self.cursor(h)) < backlog, "the catch-up's rounds were committed")
        }
    }

    static func cursor(_ h: EvaldHarness) throws -> Int64 {
        try h.store().detectionStates(kind: "cursor")["evaluation"].flatMap { Int64($0) } ?? 0
    }

    static func get(_ port: Int, _ path: String) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.timeoutInterval = 10
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    static func value(_ metrics: String, _ name: String) -> Double? {
        for line in metrics.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ")[1])
        }
        return nil
    }
}
