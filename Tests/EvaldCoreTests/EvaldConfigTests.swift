import EvaldCore
import Testing

func parseConfig(_ yaml: String, env: [String: String] = [:]) throws -> EvaldConfig {
    try EvaldConfig.parse(yaml: yaml, path: "/etc/evald/evald.yaml", environment: env).0
}

func configProblems(_ yaml: String, env: [String: String] = [:]) -> [ConfigProblem] {
    do {
        _ = try EvaldConfig.parse(yaml: yaml, path: "/etc/evald/evald.yaml", environment: env)
        return []
    } catch let errors as ConfigErrors {
        return errors.problems
    } catch {
        return [ConfigProblem(file: "", line: nil, key: "", message: "\(error)")]
    }
}

@Suite struct EvaldConfigTests {
    @Test func minimalConfigGetsDefaults() throws {
        let config = try parseConfig("spool:\n  dir: spool\n")
        #expect(config.spool.dir == "/etc/evald/spool")
        #expect(config.stateDir == "/etc/evald/state")
        #expect(config.databasePath == "/etc/evald/state/evald.db")
        #expect(config.spool.pollInterval == 1)
        #expect(config.spool.maxLineBytes == 4_194_304)
        #expect(config.sampling.rate == 0.01)
        #expect(config.sampling.effectiveBoostRate == 0.05)
        #expect(config.detection.falseAlarmEvery == 30 * 86400)
        #expect(config.http.listen == "127.0.0.1:9464")
        #expect(config.shutdownGrace == 10)
    }

    @Test func stateDirectoryFromSystemd() throws {
        let config = try parseConfig("spool: {dir: /spool}\n", env: ["STATE_DIRECTORY": "/var/lib/evald"])
        #expect(config.stateDir == "/var/lib/evald")
    }

    @Test func specExampleParses() throws {
        let yaml = """
            state_dir: /var/lib/evald
            spool:
              dir: /var/spool/otel/evald
              poll_interval: 1s
              max_line_bytes: 4194304
              after_read: keep
            sampling:
              rate: 0.01
              routes: {"refunds-*": 0.05}
              boost_rate: 0.05
              min_per_minute: 0
              max_rate: 0.25
              shard: "1/1"
            checks:
              "*":
                - {name: ok, kind: status_ok}
                - {name: no-pii, kind: pii}
                - {name: fast, kind: latency, max_ms: 8000}
              "extract-*":
                - {name: valid-order, kind: json_schema, schema: schemas/order.json}
            endpoints:
              default:
                kind: openai
                base_url: http://127.0.0.1:8080/v1
                model: gpt-4o
                api_key_env: OPENAI_API_KEY
                concurrency: 4
                timeout: 30s
                daily_token_budget: 2000000
              production:
                kind: openai
                base_url: https://llm-gateway.internal/v1
                model: gpt-4o-mini
                api_key_file: production_api_key
            judge:
              dir: reference-judges
              default_endpoint: default
              redact_pii: true
              max_queue_age: 24h
            detection:
              min_drop: 0.05
              false_alarm_every: 30d
              baseline_min_samples: 1000
              resolve_samples: 100
              drift_alpha: 0.01
              drift_min_samples: 100
            alerts:
              runbook_url: https://wiki.example.com/evald/{{alertname}}
              repeat_interval: 4h
              max_backoff: 5m
              max_age: 24h
              receivers:
                - {name: am, kind: alertmanager, url: http://127.0.0.1:9093}
                - {name: oncall, kind: webhook, url: https://hooks.example.com/evald, hmac_secret_file: webhook_secret}
                - {name: chat, kind: slack, url_file: slack_url}
                - {name: pager, kind: pagerduty, routing_key_file: pd_key, min_severity: critical}
            golden:
              dir: golden
              canary: {set: support, endpoint: production, every: 6h}
            calibration:
              min_kappa: 0.6
            retention: {raw_days: 30, rollup_days: 400}
            http:
              listen: 127.0.0.1:9464
            shutdown_grace: 10s
            log_level: info
            """
        let config = try parseConfig(yaml)
        #expect(config.sampling.routes.count == 1 && config.sampling.rate(routeMatch: "refunds-eu") == 0.05)
        #expect(config.checks.map(\.checks.count) == [3, 1])
        #expect(config.checks[1].checks[0].parameters["schema"] == .string("/etc/evald/schemas/order.json"))
        #expect(config.checks[0].checks[2].parameters["max_ms"]?.double == 8000)
        #expect(config.endpoints["default"]?.dailyTokenBudget == 2_000_000)
        #expect(config.alerts.receivers.map(\.kind) == [.alertmanager, .webhook, .slack, .pagerduty])
        #expect(config.golden.canary?.every == 21600.0)
        #expect(config.judge.maxQueueAge == 86400)
    }

    @Test func judgeSendListsTheFieldsThatMayLeave() throws {
        #expect(try parseConfig("spool: {dir: /s}\n").judge.send == [.input, .output, .reference])
        #expect(try parseConfig("spool: {dir: /s}\njudge: {send: [output]}\n").judge.send == [.output])
        #expect(try parseConfig("spool: {dir: /s}\njudge: {send: []}\n").judge.send.isEmpty)
        let problems = configProblems("spool: {dir: /s}\njudge:\n  send: [output, passwords]\n")
        #expect(problems.map(\.key) == ["judge.send[1]"])
        #expect(problems.first?.message.contains("input, output, reference, metadata") == true)
        #expect(problems.first?.line == 3)
        // The canary sends golden conversations: refused while input may not leave.
        let canary = "spool: {dir: /s}\nendpoints:\n  prod: {kind: openai, base_url: http://127.0.0.1:1/v1, model: m}\n"
        let golden = "golden:\n  canary: {set: support, endpoint: prod}\n"
        #expect(try parseConfig(canary + golden).golden.canary?.endpoint == "prod")
        let withheld = configProblems(canary + "judge: {send: [output]}\n" + golden)
        #expect(withheld.map(\.key) == ["golden.canary.endpoint"])
        #expect(withheld.first?.message.contains("judge.send") == true, "\(withheld)")
    }

    @Test func unknownKeysAreErrorsWithLineAndSuggestion() {
        let problems = configProblems("spool:\n  dir: /x\n  pol_interval: 2s\nsampling:\n  rat: 0.5\n")
        #expect(problems.count == 2)
        #expect(problems[0].key == "spool.pol_interval" && problems[0].line == 3)
        #expect(problems[0].description.contains("did you mean \"poll_interval\""))
        #expect(problems[1].key == "sampling.rat" && problems[1].line == 5)
    }

    @Test func everyProblemIsReported() {
        let problems = configProblems(
            """
            spool:
              poll_interval: soon
            sampling:
              rate: 1.5
              shard: "3/2"
            checks:
              "*":
                - {name: a, kind: latency, max_ms: 10}
                - {name: a, kind: telepathy}
                - {name: b, kind: latency, maxms: 3}
            log_level: loud
            """)
        let keys = problems.map(\.key)
        #expect(keys.contains("spool.dir"))
        #expect(keys.contains("spool.poll_interval"))
        #expect(keys.contains("sampling.rate"))
        #expect(keys.contains("sampling.shard"))
        #expect(keys.contains("checks.*[1].kind"))
        #expect(keys.contains("checks.*[2].maxms"))
        #expect(keys.contains("log_level"))
        #expect(problems.allSatisfy { $0.file == "/etc/evald/evald.yaml" })
    }

    @Test func environmentSubstitution() throws {
        let config = try parseConfig("spool: {dir: \"${SPOOL}/traces\"}\n", env: ["SPOOL": "/data"])
        #expect(config.spool.dir == "/data/traces")
        let problems = configProblems("spool: {dir: \"${MISSING}\"}\n")
        #expect(problems.first?.message.contains("MISSING is not set") == true)
    }

    @Test func invalidYAMLNamesTheLine() {
        let problems = configProblems("spool:\n  dir: [unclosed\n")
        #expect(problems.count == 1)
        #expect(problems[0].line != nil)
    }

    @Test func runbookBaseDefaultsToTheInstalledDocs() throws {
        let plain = try parseConfig("spool: {dir: /spool}\n")
        #expect(plain.alerts.runbookURL == nil)
        #expect(plain.alerts.runbookBase.hasPrefix("file:///") && plain.alerts.runbookBase.hasSuffix("/share/doc/evald"))
        #expect(plain.alerts.runbookAnnotation(labels: ["alertname": "CostSpike"]) == plain.alerts.runbookBase + "/alerts.md#costspike")
        let web = try parseConfig("spool: {dir: /spool}\nalerts: {runbook_base: \"https://docs.example.com/evald/\"}\n")
        #expect(web.alerts.runbookAnnotation(labels: ["alertname": "ProviderDrift"]) == "https://docs.example.com/evald/alerts.md#providerdrift")
        let folder = try parseConfig("spool: {dir: /spool}\nalerts: {runbook_base: docs}\n")
        #expect(folder.alerts.runbookBase == "file:///etc/evald/docs")
        #expect(configProblems("spool: {dir: /spool}\nalerts: {runbook_base: \"\"}\n").map(\.key) == ["alerts.runbook_base"])
    }

    @Test func emptyListenDisablesHTTP() throws {
        #expect(try parseConfig("spool: {dir: /x}\nhttp: {listen: \"\"}\n").http.listen == nil)
    }

    @Test func theOTLPReceiverIsOffUnlessItsSectionIsThere() throws {
        #expect(try parseConfig("spool: {dir: /x}\n").otlp.listen == nil)
        let on = try parseConfig("spool: {dir: /x}\notlp: {}\n").otlp
        #expect(on.listen == "127.0.0.1:4318" && on.maxBody == 8 << 20 && on.maxSpoolBytes == 10 << 30 && on.tokenFile == nil)
        let set = try parseConfig("spool: {dir: /x}\notlp: {listen: \"0.0.0.0:14318\", max_body: 16MiB, max_spool_bytes: 2GiB, token_file: tok}\n").otlp
        #expect(set.listen == "0.0.0.0:14318" && set.maxBody == 16 << 20 && set.maxSpoolBytes == 2 << 30 && set.tokenFile == "tok")
        #expect(try parseConfig("spool: {dir: /x}\notlp: {listen: \"\"}\n").otlp.listen == nil)
        let problems = configProblems("spool: {dir: /x}\notlp: {listen: nowhere, max_body: 10, max_spool_bytes: lots, token: x}\n")
        #expect(Set(problems.map(\.key)) == ["otlp.listen", "otlp.max_body", "otlp.max_spool_bytes", "otlp.token"])
    }

    @Test func durations() {
        #expect(ConfigDuration.seconds("500ms") == 0.5)
        #expect(ConfigDuration.seconds("30s") == 30)
        #expect(ConfigDuration.seconds("5m") == 300)
        #expect(ConfigDuration.seconds("4h") == 14400)
        #expect(ConfigDuration.seconds("1d") == 86400)
        #expect(ConfigDuration.seconds("1.5s") == 1.5)
        #expect(ConfigDuration.seconds("5") == nil)
        #expect(ConfigDuration.seconds("-1s") == nil)
        #expect(ConfigDuration.seconds("ms") == nil)
    }
}

extension SamplingConfig {
    func rate(routeMatch route: String) -> Double { makeSampler().rate(forRoute: route) }
}
