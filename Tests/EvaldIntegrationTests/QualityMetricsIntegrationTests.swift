import EvaldCore
import EvaldTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The quality series of `/metrics` from the real binary: a spool whose check verdicts this
/// test knows, a stub judge whose scores it chooses, and `http.metrics_series_limit`.
@Suite(.serialized) struct QualityMetricsIntegrationTests {
    static let routes = ["support-chat", "extract-order", "refunds-assist"]
    static let traces = 60

    static func route(_ n: Int) -> String { routes[n % 3] }
    /// `fast` (latency under 2500 ms) passes for n <= 25; `ok` (status) always passes.
    static func fastPasses(_ n: Int) -> Bool { n * 100 <= 2500 }
    /// The judge applies to support-* and refunds-*; the stub scores even questions 5, odd ones 2.
    static func judged(_ n: Int) -> Bool { n % 3 != 1 }
    static func score(_ n: Int) -> Int { n % 2 == 0 ? 5 : 2 }

    static func line(_ n: Int, at now: Date) -> String {
        #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"\#(RFC3339.format(now))","route":"\#(route(n))","model":"gpt-4o-mini","input":[{"role":"user","content":"question \#(n) end"}],"output":"answer \#(n)","latency_ms":\#(n * 100)}"#
            + "\n"
    }

    static let rubric = """
        ---
        name: helpfulness
        version: 1
        applies_to: ["support-*", "refunds-*"]
        scale: {min: 1, max: 5}
        pass_at: 4
        ---
        Grade the answer.
        Question: {{last_user_message}}
        Answer: {{output}}
        Reply with JSON only: {"score": <1-5>, "reason": "<one sentence>"}
        """

    /// Runs the daemon on the spool and scrapes `/metrics` until `done` holds (every verdict
    /// stored and counted, the detectors caught up); returns that scrape.
    func scrape(seriesLimit: Int?, until done: ([String: Double]) -> Bool) async throws -> String {
        let stub = try await StubJudgeServer.start { prompt in
            let n = prompt.range(of: #"question \d+ end"#, options: .regularExpression).map { Int(prompt[$0].dropFirst(9).dropLast(4)) ?? 1 } ?? 1
            return #"{"score": \#(Self.score(n)), "reason": "graded"}"#
        }
        defer { Task { try? await stub.stop() } }
        let h = try EvaldHarness()
        try h.writeConfig(
            """
            state_dir: state
            spool:
              dir: spool
              poll_interval: 100ms
            sampling:
              rate: 1
            http:
              listen: "127.0.0.1:0"
            \(seriesLimit.map { "  metrics_series_limit: \($0)" } ?? "")
            endpoints:
              default: {kind: openai, base_url: "\(stub.baseURL)/v1", model: judge-model, api_key_env: EVALD_TEST_JUDGE_KEY, timeout: 10s, max_retries: 2}
            judge:
              dir: judges
            checks:
              "*":
                - {name: fast, kind: latency, max_ms: 2500}
                - {name: ok, kind: status_ok}
            """)
        try FileManager.default.createDirectory(atPath: h.root + "/judges", withIntermediateDirectories: true)
        try Self.rubric.write(toFile: h.root + "/judges/helpfulness.md", atomically: true, encoding: .utf8)
        let now = Date()
        try h.append("a.jsonl", (0..<Self.traces).map { Self.line($0, at: now) }.joined())

        let daemon = try h.startDaemon(environment: ["EVALD_TEST_JUDGE_KEY": "sk-test"])
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        let port = h.httpPort()
        #expect(port > 0)
        var metrics = ""
        let deadline = Date() + 60
        repeat {
            if !metrics.isEmpty { usleep(100_000) }
            let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
            metrics = String(decoding: data, as: UTF8.self)
        } while !done(Self.samples(metrics)) && Date() < deadline
        #expect(done(Self.samples(metrics)), "\(metrics)")
        Self.promtool(metrics, root: h.root)
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        return metrics
    }

    static func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = value
        }
        return out
    }

    static func promtool(_ metrics: String, root: String) {
        guard let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("promtool is missing in CI: .ci/run installs the prometheus package") }
            return
        }
        let file = root + "/metrics.txt"
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/bin/sh")
        check.arguments = ["-c", "\(promtool) check metrics < \(file)"]
        do {
            try metrics.write(toFile: file, atomically: true, encoding: .utf8)
            try check.run()
            check.waitUntilExit()
            #expect(check.terminationStatus == 0, "promtool check metrics failed")
        } catch {
            Issue.record("promtool: \(error)")
        }
    }

    @Test func checkResultsJudgeVerdictsAndScoresAreExactlyTheSpools() async throws {
        try await onTestThreads {
            let judgedCount = Double((0..<Self.traces).count(where: Self.judged))
            let samples = Self.samples(
                try await scrape(seriesLimit: nil) { samples in
                    samples.filter { $0.key.hasPrefix("evald_judge_score_count{") }.values.reduce(0, +) == judgedCount
                        && samples.filter { $0.key.hasPrefix("evald_check_results_total{") }.values.reduce(0, +) == Double(2 * Self.traces)
                        && samples["evald_detection_evaluations_total"] == Double(Self.traces)
                        && samples.keys.count { $0.hasPrefix(#"evald_series_baseline{metric="check:"#) } == 2 * Self.routes.count
                })
            for route in Self.routes {
                let ns = (0..<Self.traces).filter { Self.route($0) == route }
                func check(_ name: String, _ result: String) -> Double? {
                    samples[#"evald_check_results_total{check="\#(name)",route="\#(route)",model="gpt-4o-mini",result="\#(result)"}"#]
                }
                #expect(check("fast", "pass") == Double(ns.count(where: Self.fastPasses)), "\(route)")
                #expect(check("fast", "fail") == Double(ns.count { !Self.fastPasses($0) }), "\(route)")
                #expect(check("ok", "pass") == Double(ns.count) && check("ok", "fail") == 0, "\(route)")
                // The pass rate gauge: every trace is from the last hour.
                let rate = samples[#"evald_series_pass_rate{metric="check:fast",route="\#(route)",model="gpt-4o-mini"}"#]
                #expect(rate.map { abs($0 - Double(ns.count(where: Self.fastPasses)) / Double(ns.count)) < 1e-9 } == true, "\(route)")
                // The detectors have read every evaluation and stored their state; none is armed
                // (baseline_min_samples), so every outcome is in the baseline.
                let baseline = samples[#"evald_series_baseline{metric="check:fast",route="\#(route)",model="gpt-4o-mini"}"#]
                #expect(baseline != nil && baseline == rate, "\(route)")

                let labels = #"judge="helpfulness",route="\#(route)",model="gpt-4o-mini""#
                let judged = ns.filter(Self.judged)
                if judged.isEmpty {
                    #expect(!samples.keys.contains { $0.contains(labels) })
                    continue
                }
                let passes = judged.count { Self.score($0) >= 4 }
                #expect(samples[#"evald_judge_verdicts_total{\#(labels),result="pass"}"#] == Double(passes), "\(route)")
                #expect(samples[#"evald_judge_verdicts_total{\#(labels),result="fail"}"#] == Double(judged.count - passes), "\(route)")
                #expect(samples["evald_judge_score_count{\(labels)}"] == Double(judged.count))
                #expect(samples["evald_judge_score_sum{\(labels)}"] == Double(judged.map(Self.score).reduce(0, +)))
            }
            #expect(samples.filter { $0.key.hasPrefix("evald_metrics_series_dropped_total") }.values.allSatisfy { $0 == 0 })
        }
    }

    @Test func aLowSeriesLimitCutsAndCountsWhatItCut() async throws {
        try await onTestThreads {
            // Every check verdict not in the exported series and every judge verdict is cut, and counted.
            let judgedCount = Double((0..<Self.traces).count(where: Self.judged))
            func exported(_ samples: [String: Double]) -> Double {
                samples.filter { $0.key.hasPrefix("evald_check_results_total{") }.values.reduce(0, +)
            }
            func dropped(_ samples: [String: Double], _ family: String) -> Double? {
                samples[#"evald_metrics_series_dropped_total{family="\#(family)"}"#]
            }
            let metrics = try await scrape(seriesLimit: 3) { samples in
                exported(samples) + (dropped(samples, "evald_check_results_total") ?? 0) == Double(2 * Self.traces)
                    && dropped(samples, "evald_judge_verdicts_total") == judgedCount
            }
            let samples = Self.samples(metrics)
            let quality = samples.filter {
                ["evald_check_results_total{", "evald_judge_verdicts_total{", "evald_judge_score_", "evald_series_pass_rate{", "evald_series_baseline{"]
                    .contains(where: $0.key.hasPrefix)
            }
            #expect(quality.count <= 3, "\(quality.keys.sorted())")
            // A check's two series fit; a judge's four never do.
            let checks = quality.filter { $0.key.hasPrefix("evald_check_results_total{") }
            #expect(checks.count == 2)
            #expect(!quality.keys.contains { $0.hasPrefix("evald_judge") })
            #expect(exported(samples) > 0)
            // The families are still declared.
            #expect(metrics.contains("# TYPE evald_judge_verdicts_total counter"))
            #expect(metrics.contains("# TYPE evald_judge_score summary"))
        }
    }
}
