import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Detection through the real binary: a spool whose provider version changes half
/// way, regressions fired into a webhook, and kill -9 while detection runs.
@Suite(.serialized) struct DetectionIntegrationTests {
    static let oldVersion = "gpt-4o-mini-2024-07-18"
    static let newVersion = "gpt-4o-mini-2025-03-01"

    /// One record every 10 s of trace time; `apologises` decides the `polite` check's verdict.
    static func record(_ n: Int, version: String, apologises: Bool) -> String {
        let ts = RFC3339.format(Date(timeIntervalSince1970: 1_795_824_000 + Double(n) * 10), fractional: false)
        let output = apologises ? "Sorry, I cannot look that up right now." : "Your order A-\(n) ships tomorrow."
        return
            #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"\#(ts)","route":"support-chat","model":"gpt-4o-mini","response_model":"\#(version)","input":[{"role":"user","content":"Where is order A-\#(n)?"}],"output":"\#(output)","latency_ms":\#(700 + n % 300),"cost_usd":0.0004}"#
            + "\n"
    }

    /// `before` records from the old version failing 1 in 10, then `after` from the new one
    /// failing `newFailures` in 10 (deterministic patterns: the tests are about the wiring).
    static func spool(before: Int, after: Int, newFailures: Int) -> String {
        var text = ""
        for n in 0..<before { text += record(n, version: oldVersion, apologises: n % 10 == 0) }
        for n in before..<(before + after) { text += record(n, version: newVersion, apologises: n % 10 < newFailures) }
        return text
    }

    static func config(hook: StubHTTPServer) -> String {
        """
        checks:
          "*":
            - {name: polite, kind: not_contains, values: ["sorry"], ignore_case: true}
        alerts:
          max_backoff: 500ms
          receivers:
            - {name: hook, kind: webhook, url: "\(hook.baseURL)/hook"}
        """
    }

    func notifications(_ hook: StubHTTPServer) -> [[String: Any]] {
        hook.requests.compactMap { request in
            (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any]
        }.flatMap { ($0["alerts"] as? [[String: Any]]) ?? [] }
    }

    @Test func aWorseNewVersionFiresProviderDriftNamingBothVersionsAndTheRegressionIsAttributedToIt() async throws {
        try await onTestThreads {
            let hook = try await StubHTTPServer.start { _ in .respond(status: 200, body: []) }
            defer { Task { try? await hook.stop() } }
            let h = try EvaldHarness(config: Self.config(hook: hook))
            try h.append("traces.jsonl", Self.spool(before: 1_200, after: 800, newFailures: 4))
            let run = try h.run(["run", "--once"])
            #expect(run.code == 0, "\(run.stderr)")

            let drift = try h.run(["drift", "--json"])
            #expect(drift.code == 1, "a drifted version is answering: \(drift.stdout)")
            let watch = try #require((drift.json["watches"] as? [[String: Any]])?.first)
            #expect(watch["current_version"] as? String == Self.newVersion)
            let change = try #require((watch["switches"] as? [[String: Any]])?.first)
            #expect(change["version_before"] as? String == Self.oldVersion)
            #expect(change["version_after"] as? String == Self.newVersion)
            #expect(change["state"] as? String == "drift")
            let polite = try #require((change["metrics"] as? [[String: Any]])?.first { $0["metric"] as? String == "check:polite" })
            #expect(polite["verdict"] as? String == "drift")
            #expect(abs((polite["rate_before"] as? Double ?? 0) - 0.9) < 0.001)

            // Delivered to the webhook: the version change (info) and the drift, naming both versions.
            let received = notifications(hook)
            let driftAlert = try #require(received.first { ($0["labels"] as? [String: String])?["alertname"] == "ProviderDrift" })
            let labels = try #require(driftAlert["labels"] as? [String: String])
            #expect(labels["version_before"] == Self.oldVersion && labels["version_after"] == Self.newVersion)
            #expect(labels["metric"] == "check:polite" && labels["route"] == "support-chat" && labels["model"] == "gpt-4o-mini")
            let description = (driftAlert["annotations"] as? [String: String])?["description"] ?? ""
            #expect(description.contains("0.900") && description.contains(Self.oldVersion) && description.contains(Self.newVersion))
            #expect(received.contains { ($0["labels"] as? [String: String])?["alertname"] == "ProviderVersionChanged" })

            // The regression itself (1,200 samples of baseline, then a drop to 0.6) fired too, with
            // its numbers, examples and the switch as its likely cause.
            let alerts = try h.run(["alerts", "--json"])
            let regression = try #require(
                (alerts.json["alerts"] as? [[String: Any]])?.first {
                    $0["alertname"] as? String == "QualityRegression" && ($0["labels"] as? [String: String])?["metric"] == "check:polite"
                })
            let numbers = try #require(regression["numbers"] as? [String: Double])
            #expect(abs((numbers["baseline"] ?? 0) - 0.9) < 0.01)
            #expect((numbers["current"] ?? 1) < 0.75)
            #expect((numbers["statistic"] ?? 0) >= (numbers["threshold"] ?? 1))
            #expect(numbers["n"] != nil && numbers["version_switch_at"] != nil)
            let examples = try #require(regression["examples"] as? [String])
            #expect(!examples.isEmpty && examples.count <= 5)
            #expect((regression["annotations"] as? [String: String])?["version_switch"] == "\(Self.oldVersion) -> \(Self.newVersion)")
            let explain = try h.run(["explain", try #require(regression["id"] as? String)])
            #expect(explain.stdout.contains("Sorry"), "the examples are the failing traces")
        }
    }

    @Test func anEqualNewVersionFiresNoDriftAndIsClearedAfterEnoughSamples() async throws {
        try await onTestThreads {
            let hook = try await StubHTTPServer.start { _ in .respond(status: 200, body: []) }
            defer { Task { try? await hook.stop() } }
            let h = try EvaldHarness(config: Self.config(hook: hook))
            try h.append("traces.jsonl", Self.spool(before: 1_000, after: 2_500, newFailures: 1))
            #expect(try h.run(["run", "--once"]).code == 0)
            let drift = try h.run(["drift", "--json"])
            #expect(drift.code == 0)
            let change = try #require(((drift.json["watches"] as? [[String: Any]])?.first?["switches"] as? [[String: Any]])?.first)
            #expect(change["state"] as? String == "no_drift")
            #expect(!notifications(hook).contains { ($0["labels"] as? [String: String])?["alertname"] == "ProviderDrift" })
            let alerts = try h.run(["alerts", "--all", "--json"])
            let names = (alerts.json["alerts"] as? [[String: Any]] ?? []).compactMap { $0["alertname"] as? String }
            #expect(!names.contains("ProviderDrift") && !names.contains("QualityRegression"))
            // The version change was notified and, its watch settled, resolved.
            let changed = try #require((alerts.json["alerts"] as? [[String: Any]])?.first { $0["alertname"] as? String == "ProviderVersionChanged" })
            #expect(changed["state"] as? String == "resolved")
        }
    }

    @Test func killMinus9WhileDetectingCountsEveryOutcomeOnce() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(
                config: """
                    checks:
                      "*":
                        - {name: polite, kind: not_contains, values: ["sorry"], ignore_case: true}
                    """)
            let total = 6_000
            let lines = Self.spool(before: 3_000, after: total - 3_000, newFailures: 4).split(separator: "\n").map { $0 + "\n" }
            var cursors: [Int] = []
            var rng = SplitMix64(state: 9)
            for round in 0..<4 {
                // A quarter of the spool at a time; the daemon is killed at a random moment after
                // detection has committed part of it (ingest and detection of later lines in flight).
                try h.append("traces.jsonl", lines[(round * 1_250)..<((round + 1) * 1_250)].joined())
                let daemon = try h.startDaemon(logName: "daemon-\(round).log")
                let before = cursors.last ?? 0
                #expect(try h.waitUntil(timeout: 60) { Int(try h.store().detectionStates(kind: "cursor")["evaluation"] ?? "0") ?? 0 > before })
                usleep(useconds_t(rng.next() % 1_500_000))
                kill(daemon.processIdentifier, SIGKILL)
                daemon.waitUntilExit()
                cursors.append(Int(try h.store().detectionStates(kind: "cursor")["evaluation"] ?? "0") ?? 0)
            }
            try h.append("traces.jsonl", lines[5_000...].joined())
            #expect(cursors == cursors.sorted() && cursors.last! < total, "killed part way: \(cursors)")
            #expect(try h.run(["run", "--once"]).code == 0)
            let store = try h.store()
            let states = try store.detectionStates(kind: "series")
            let json = try #require(states["check:polite|pass_rate|support-chat|gpt-4o-mini"])
            let monitor = try JSONDecoder().decode(SeriesMonitor.self, from: Data(json.utf8))
            #expect(monitor.trafficDays.values.reduce(0, +) == total, "every evaluation fed to the series exactly once")
            let versions = try JSONDecoder().decode(
                ProviderVersionWatch.self, from: Data(try #require(try store.detectionStates(kind: "versions")["support-chat|gpt-4o-mini"]).utf8))
            #expect(versions.versions.values.map(\.samples).reduce(0, +) == total)
            #expect(versions.switches.count == 1)
            // One QualityRegression and one ProviderDrift, never twice.
            let fired = try store.alerts(includeResolved: true)
            #expect(fired.filter { $0.name == "ProviderDrift" }.count == 1)
            #expect(fired.filter { $0.name == "QualityRegression" }.count == 1)
        }
    }

    @Test func aQuietRouteIsSampledAtTheFloorRateAndEachEvaluationRecordsIt() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            try h.writeConfig(
                """
                state_dir: state
                spool:
                  dir: spool
                  poll_interval: 100ms
                sampling:
                  rate: 0.01
                  min_per_minute: 1000
                  max_rate: 0.5
                http:
                  listen: ""
                """)
            let ts = RFC3339.format(Date(), fractional: false)
            func line(_ n: Int) -> String {
                #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"\#(ts)","route":"quiet","model":"m","output":"ok \#(n)"}"# + "\n"
            }
            try h.append("traces.jsonl", (0..<5_000).map(line).joined())
            let daemon = try h.startDaemon()
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            // 1% of 5,000 calls in a minute is ~50 samples a minute, under min_per_minute 1000:
            // the route is raised to about 1000 / 5000 = 0.2.
            var raised = 0.0
            #expect(
                try h.waitUntil(timeout: 60) {
                    raised = ((try h.status()["sampling"] as? [String: Any])?["raised"] as? [String: Double])?["quiet"] ?? 0
                    return raised > 0
                }, "\((try? String(contentsOfFile: h.root + "/daemon.log", encoding: .utf8)) ?? "")")
            #expect(raised > 0.15 && raised < 0.3, "raised to \(raised)")
            // Give the reader a poll to take the new rate, then more traffic.
            #expect(
                try h.waitUntil(timeout: 30) {
                    ((try? String(contentsOfFile: h.root + "/daemon.log", encoding: .utf8)) ?? "").contains("sampling.rates_raised")
                })
            try h.append("traces.jsonl", (5_000..<10_000).map(line).joined())
            #expect(try h.waitUntil(timeout: 60) { try h.spoolStatus("lines_read") == 10_000 })
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()

            let evaluations = try h.store().evaluations()
            let first = evaluations.filter { $0.lineOffset < Int64(5_000 * line(0).utf8.count) }
            let second = evaluations.filter { $0.lineOffset >= Int64(5_000 * line(0).utf8.count) }
            // The deterministic rule at the rate in force, and the rate recorded with each.
            #expect(Set(first.map(\.traceID)) == EvaldHarness.expectedSample(0..<5_000, rate: 0.01))
            #expect(first.allSatisfy { $0.sampleRate == 0.01 })
            #expect(Set(second.map(\.traceID)) == EvaldHarness.expectedSample(5_000..<10_000, rate: raised))
            #expect(second.allSatisfy { abs($0.sampleRate - raised) < 1e-12 })
            #expect(second.count > 10 * first.count / 2, "\(second.count) sampled after the raise, \(first.count) before")
        }
    }
}
