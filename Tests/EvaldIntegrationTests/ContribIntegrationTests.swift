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

/// `contrib/`: the Prometheus rules under promtool, and the Grafana dashboard's and the
/// recording rules' queries against a real Prometheus scraping the real binary.
@Suite(.serialized) struct ContribIntegrationTests {
    static let contrib = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("contrib").path

    /// The Debian `prometheus` package's programs, or nil, said out loud: CI installs them
    /// (.ci/run), so there a missing one fails the test; elsewhere the test is skipped with a
    /// line on stderr rather than passing silently.
    static func program(_ name: String) -> String? {
        if let path = ["/usr/bin/\(name)", "/usr/local/bin/\(name)"].first(where: FileManager.default.isExecutableFile(atPath:)) { return path }
        let message = "\(name) is not installed: ContribIntegrationTests did NOT run (apt-get install prometheus; .ci/run installs it)"
        if ProcessInfo.processInfo.environment["CI"] != nil {
            Issue.record("\(message)")
        } else {
            FileHandle.standardError.write(Data("warning: SKIPPED: \(message)\n".utf8))
        }
        return nil
    }

    static func runTool(_ path: String, _ arguments: [String], in directory: String) throws -> (code: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = NSTemporaryDirectory() + "promtool-\(UUID().uuidString).txt"
        FileManager.default.createFile(atPath: out, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: out) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }

    @Test func theRulesAreCleanUnderPromtoolAndTheirAlertsFireWhereTheTestsSay() async throws {
        try await onTestThreads {
            guard let promtool = Self.program("promtool") else { return }
            let check = try Self.runTool(promtool, ["check", "rules", "evald-rules.yml"], in: Self.contrib + "/prometheus")
            #expect(check.code == 0, "\(check.output)")
            #expect(check.output.contains("SUCCESS"))
            let test = try Self.runTool(promtool, ["test", "rules", "evald-rules.test.yml"], in: Self.contrib + "/prometheus")
            #expect(test.code == 0, "\(test.output)")
            // Every alerting rule is exercised by the committed test file.
            let rules = try String(contentsOfFile: Self.contrib + "/prometheus/evald-rules.yml", encoding: .utf8)
            let tests = try String(contentsOfFile: Self.contrib + "/prometheus/evald-rules.test.yml", encoding: .utf8)
            let alerts = rules.split(separator: "\n").compactMap { line -> String? in
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                return trimmed.hasPrefix("- alert: ") ? String(trimmed.dropFirst("- alert: ".count)) : nil
            }
            #expect(alerts.count >= 10)
            for alert in alerts { #expect(tests.contains("alertname: \(alert)\n"), "no promtool test fires \(alert)") }
        }
    }

    /// One query the dashboard or the rules hold.
    struct Query {
        var origin: String
        var expr: String
    }

    /// Every PromQL expression of the dashboard: panel targets, annotations, and the selectors
    /// of its `label_values(SELECTOR, LABEL)` variables (asked as `count by (LABEL) (SELECTOR)`).
    static func dashboardQueries() throws -> [Query] {
        let data = try Data(contentsOf: URL(fileURLWithPath: contrib + "/grafana/evald.json"))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var queries: [Query] = []
        for panel in dashboard["panels"] as? [[String: Any]] ?? [] {
            for target in panel["targets"] as? [[String: Any]] ?? [] {
                queries.append(Query(origin: "panel \"\(panel["title"] ?? "")\" \(target["refId"] ?? "")", expr: try #require(target["expr"] as? String)))
            }
        }
        let annotations = (dashboard["annotations"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        for annotation in annotations {
            if let expr = annotation["expr"] as? String { queries.append(Query(origin: "annotation \"\(annotation["name"] ?? "")\"", expr: expr)) }
        }
        let variables = (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        for variable in variables where variable["type"] as? String == "query" {
            let definition = try #require(variable["definition"] as? String)
            let match = try #require(definition.firstMatch(of: /^label_values\((.*), *(\w+)\)$/), "variable \(variable["name"] ?? ""): \(definition)")
            queries.append(Query(origin: "variable $\(variable["name"] ?? "")", expr: "count by (\(match.2)) (\(match.1))"))
        }
        return queries
    }

    /// Grafana's variables as the dashboard would fill them for one route and model.
    static func substitute(_ expr: String, instance: String) -> String {
        var out = expr
        for (name, value) in [
            ("$__rate_interval", "1m"), ("$__interval", "15s"), ("$__range", "5m"), ("$instance", instance), ("$job", "evald"),
            ("$route", "support-chat"), ("$model", "gpt-4o-mini"),
        ] {
            out = out.replacingOccurrences(of: name, with: value)
        }
        return out
    }

    static let rubrics = [
        "helpfulness": """
        ---
        name: helpfulness
        version: 1
        applies_to: ["support-*"]
        scale: {min: 1, max: 5}
        pass_at: 4
        ---
        Grade helpfulness.
        Question: {{last_user_message}}
        Answer: {{output}}
        Reply with JSON only: {"score": <1-5>, "reason": "<one sentence>"}
        """,
        // Its endpoint answers prose: judge errors (no_json) on every call, so JudgeFailing fires.
        "faithfulness": """
        ---
        name: faithfulness
        version: 1
        scale: pass_fail
        ---
        Grade faithfulness.
        Answer: {{output}}
        Reply with JSON only: {"pass": true|false, "reason": "<one sentence>"}
        """,
    ]

    /// A record with usage (tokens, cost) for the usage panels; one call in ten failed, all of
    /// them on support-chat, for the error panels.
    static func line(_ n: Int, at time: Date) -> String {
        let routes = ["support-chat", "extract-order"]
        let outcome = n % 10 == 0 ? #""status":"error","error":"RateLimitError: slow down""# : #""output":"answer \#(n)""#
        return
            #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"\#(RFC3339.format(time))","route":"\#(routes[n % 2])","model":"gpt-4o-mini","input":[{"role":"user","content":"question \#(n)"}],\#(outcome),"usage":{"input_tokens":\#(100 + n % 50),"output_tokens":\#(20 + n % 9)},"cost_usd":0.0004,"latency_ms":\#(n % 7 * 500)}"#
            + "\n"
    }

    @Test func everyDashboardQueryAndRecordingRuleReturnsDataFromARealPrometheus() async throws {
        try await onTestThreads {
            guard let prometheus = Self.program("prometheus") else { return }
            let queries = try Self.dashboardQueries()
            #expect(queries.count >= 25)
            let stub = try await StubJudgeServer.start { prompt in
                prompt.contains("Grade faithfulness") ? "I would rather not say." : #"{"score": \#(prompt.count % 2 == 0 ? 5 : 2), "reason": "graded"}"#
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
                endpoints:
                  default: {kind: openai, base_url: "\(stub.baseURL)/v1", model: judge-model, timeout: 10s, max_retries: 0}
                judge:
                  dir: judges
                checks:
                  "*":
                    - {name: fast, kind: latency, max_ms: 2000}
                    - {name: ok, kind: status_ok}
                """)
            try FileManager.default.createDirectory(atPath: h.root + "/judges", withIntermediateDirectories: true)
            for (name, text) in Self.rubrics { try text.write(toFile: "\(h.root)/judges/\(name).md", atomically: true, encoding: .utf8) }
            var next = 0
            func feed(_ count: Int) throws {
                try h.append("a.jsonl", (next..<next + count).map { Self.line($0, at: Date()) }.joined())
                next += count
            }
            try feed(40)
            let daemon = try h.startDaemon()
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            let evaldPort = h.httpPort()
            try #require(evaldPort > 0)

            let port = try AlertIntegrationTests.freePort()
            try """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files:
              - \(Self.contrib)/prometheus/evald-rules.yml
            scrape_configs:
              - job_name: evald
                static_configs:
                  - targets: ["127.0.0.1:\(evaldPort)"]
            """.write(toFile: h.root + "/prometheus.yml", atomically: true, encoding: .utf8)
            let server = Process()
            server.executableURL = URL(fileURLWithPath: prometheus)
            server.arguments = [
                "--config.file=\(h.root)/prometheus.yml", "--storage.tsdb.path=\(h.root)/prometheus-data",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
            ]
            FileManager.default.createFile(atPath: h.root + "/prometheus.log", contents: nil)
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: h.root + "/prometheus.log"))
            server.standardOutput = log
            server.standardError = log
            try server.run()
            defer {
                server.terminate()
                server.waitUntilExit()
            }
            let base = "http://127.0.0.1:\(port)"
            func get(_ path: String, _ items: [URLQueryItem] = []) async throws -> [String: Any] {
                var components = try #require(URLComponents(string: base + path))
                if !items.isEmpty {
                    components.queryItems = items
                    // A query's "+" must reach Prometheus as a plus, not as a space.
                    components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
                }
                let (data, _) = try await URLSession.shared.data(from: try #require(components.url))
                return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(path): \(String(decoding: data, as: UTF8.self))")
            }
            var ready = false
            for _ in 0..<300 where !ready {
                if let (data, _) = try? await URLSession.shared.data(from: URL(string: base + "/-/ready")!),
                    String(decoding: data, as: UTF8.self).contains("Ready")
                {
                    ready = true
                } else {
                    usleep(100_000)
                }
            }
            try #require(ready, "\((try? String(contentsOfFile: h.root + "/prometheus.log", encoding: .utf8)) ?? "")")

            // The rules Prometheus loaded: every recording rule's expression and its recorded
            // series, every alerting rule's expression (it must parse; it need not fire).
            let groups = try #require(((try await get("/api/v1/rules"))["data"] as? [String: Any])?["groups"] as? [[String: Any]])
            let rules = groups.flatMap { $0["rules"] as? [[String: Any]] ?? [] }
            let recording = rules.filter { $0["type"] as? String == "recording" }
            #expect(recording.count >= 8)
            #expect(rules.count - recording.count >= 10)
            var mustHaveData = queries.map { Query(origin: $0.origin, expr: Self.substitute($0.expr, instance: "127.0.0.1:\(evaldPort)")) }
            for rule in recording {
                let name = try #require(rule["name"] as? String)
                mustHaveData.append(Query(origin: "recording rule \(name)", expr: try #require(rule["query"] as? String)))
                mustHaveData.append(Query(origin: "recorded series \(name)", expr: name))
            }
            for query in mustHaveData { #expect(!query.expr.contains("$"), "\(query.origin): a variable is left in \(query.expr)") }

            /// nil: a finite sample came back; else why not.
            func problem(_ expr: String) async throws -> String? {
                let answer = try await get("/api/v1/query", [URLQueryItem(name: "query", value: expr)])
                guard answer["status"] as? String == "success" else { return "error: \(answer["errorType"] ?? "") \(answer["error"] ?? "")" }
                let result = ((answer["data"] as? [String: Any])?["result"] as? [[String: Any]]) ?? []
                if result.isEmpty { return "no data" }
                let values = result.compactMap { ($0["value"] as? [Any])?.last as? String }.compactMap(Double.init)
                return values.contains(where: \.isFinite) ? nil : "only non-finite values \(values)"
            }
            var problems: [String: String] = [:]
            let deadline = Date() + 150
            repeat {
                try feed(4)
                problems = [:]
                for query in mustHaveData {
                    if let problem = try await problem(query.expr) {
                        // A query that does not parse never will: fail at once.
                        if problem.hasPrefix("error") {
                            Issue.record("\(query.origin): \(problem)\n\(query.expr)")
                            kill(daemon.processIdentifier, SIGKILL)
                            return
                        }
                        problems[query.origin] = problem
                    }
                }
                if problems.isEmpty { break }
                usleep(1_000_000)
            } while Date() < deadline
            #expect(problems.isEmpty, "\(problems.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n"))")
            for rule in rules {
                let error = rule["lastError"] as? String ?? ""
                #expect(error.isEmpty, "rule \(rule["name"] ?? ""): \(error)")
            }
            for rule in try #require(((try await get("/api/v1/rules"))["data"] as? [String: Any])?["groups"] as? [[String: Any]]).flatMap({
                $0["rules"] as? [[String: Any]] ?? []
            }) {
                #expect(rule["health"] as? String == "ok", "rule \(rule["name"] ?? ""): \(rule["health"] ?? "") \(rule["lastError"] ?? "")")
            }
            for rule in rules where rule["type"] as? String == "alerting" {
                let answer = try await get("/api/v1/query", [URLQueryItem(name: "query", value: try #require(rule["query"] as? String))])
                #expect(answer["status"] as? String == "success", "alert \(rule["name"] ?? ""): \(answer)")
            }
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
        }
    }
}
