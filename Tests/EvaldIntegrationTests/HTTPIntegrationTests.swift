import EvaldTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

@Suite(.serialized) struct HTTPIntegrationTests {
    func get(_ port: Int, _ path: String) async throws -> (Int, String, String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        let http = response as! HTTPURLResponse
        return (http.statusCode, http.value(forHTTPHeaderField: "Content-Type") ?? "", String(decoding: data, as: UTF8.self))
    }

    @Test func metricsHealthzAndStatus() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(
                config: """
                    checks:
                      "*":
                        - {name: fast, kind: latency, max_ms: 2500}
                    """, rate: 1)
            try h.writeConfig(
                "state_dir: state\nspool:\n  dir: spool\n  poll_interval: 100ms\nsampling:\n  rate: 1\nhttp:\n  listen: \"127.0.0.1:0\"\nchecks:\n  \"*\":\n    - {name: fast, kind: latency, max_ms: 2500}\n"
            )
            try h.append("a.jsonl", (0..<50).map(EvaldHarness.line).joined() + "not json\n")
            let daemon = try h.startDaemon()
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            let port = h.httpPort()
            #expect(port > 0)
            #expect(h.waitUntil { (try? h.spoolStatus("lines_read")) == 51 })

            let (healthCode, _, health) = try await get(port, "/healthz")
            #expect(healthCode == 200 && health == "ok\n")

            let (metricsCode, contentType, metrics) = try await get(port, "/metrics")
            #expect(metricsCode == 200)
            #expect(contentType.hasPrefix("text/plain; version=0.0.4"))
            let values = Dictionary(
                metrics.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line -> (String, Double)? in
                    let parts = line.split(separator: " ")
                    guard parts.count == 2, let value = Double(parts[1]) else { return nil }
                    return (String(parts[0]), value)
                }, uniquingKeysWith: { $1 })
            #expect(values["evald_spool_lines_read_total"] == 51)
            #expect(values["evald_spool_lines_quarantined_total"] == 1)
            #expect(values["evald_traces_sampled_total"] == 50)
            #expect(values["evald_check_failures_total"] == Double((0..<50).filter { $0 % 5000 > 2500 }.count))
            #expect(values["evald_build_info{version=\"0.1.0\"}"] == 1)
            // The same verdicts per check, route, model and result: the failures add up.
            let checkResults = values.filter { $0.key.hasPrefix("evald_check_results_total{check=\"fast\",") }
            #expect(checkResults.count == 6, "\(checkResults.keys.sorted())")
            #expect(checkResults.values.reduce(0, +) == 50)
            #expect(checkResults.filter { $0.key.hasSuffix("result=\"fail\"}") }.values.reduce(0, +) == values["evald_check_failures_total"])
            for family in [
                "evald_judge_requests_total", "evald_judge_tokens_total", "evald_judge_queue_depth",
                "evald_alerts_firing", "evald_notifications_sent_total", "evald_notifications_failed_total",
            ] {
                #expect(values[family] == 0, "\(family)")
            }
            // Labelled by judge and kind: a series appears with its judge's first error.
            #expect(!values.keys.contains { $0.hasPrefix("evald_judge_errors_total") })
            // Detection gauges: present; nothing armed on 50 samples (baseline_min_samples 1000).
            #expect(values["evald_detection_series"] != nil && values["evald_detection_armed_series"] == 0)
            #expect(values["evald_detection_regressions_open"] == 0 && values["evald_drift_switches_watching"] == 0)
            #expect(metrics.contains("# TYPE evald_judge_request_duration_seconds histogram"))
            // Prometheus conventions: every metric has HELP and TYPE, counters end in _total.
            func family(_ sample: String) -> String {
                let name = String(sample.prefix { $0 != "{" })
                for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
                    let base = String(name.dropLast(suffix.count))
                    if metrics.contains("# TYPE \(base) histogram") { return base }
                }
                return name
            }
            for name in Set(values.keys.map(family)) {
                #expect(metrics.contains("# HELP \(name) "), "\(name)")
                #expect(metrics.contains("# TYPE \(name) "), "\(name)")
                if metrics.contains("# TYPE \(name) counter") { #expect(name.hasSuffix("_total")) }
            }
            // promtool (Debian's prometheus package, installed by .ci/run) lints the exposition.
            if let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first(where: FileManager.default.isExecutableFile(atPath:)) {
                let file = h.root + "/metrics.txt"
                try metrics.write(toFile: file, atomically: true, encoding: .utf8)
                let check = Process()
                check.executableURL = URL(fileURLWithPath: "/bin/sh")
                check.arguments = ["-c", "\(promtool) check metrics < \(file)"]
                try check.run()
                check.waitUntilExit()
                #expect(check.terminationStatus == 0, "promtool check metrics failed")
            } else if ProcessInfo.processInfo.environment["CI"] != nil {
                Issue.record("promtool is missing in CI: .ci/run installs the prometheus package")
            }

            let (statusCode, statusType, statusBody) = try await get(port, "/api/v1/status")
            #expect(statusCode == 200 && statusType == "application/json")
            let status = try JSONSerialization.jsonObject(with: Data(statusBody.utf8)) as? [String: Any]
            #expect((status?["spool"] as? [String: Any])?["lines_read"] as? Int == 51)
            #expect((status?["daemon"] as? [String: Any])?["running"] as? Bool == true)

            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
        }
    }
}
