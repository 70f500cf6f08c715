import Foundation
import Yams

extension EvaldConfig {
    /// The check kinds and the parameters each accepts.
    public static let checkParameters: [String: Set<String>] = [
        "status_ok": [],
        "json_valid": ["allow_fenced"],
        "json_schema": ["schema", "allow_fenced"],
        "regex": ["pattern"],
        "not_regex": ["pattern"],
        "contains": ["values", "ignore_case"],
        "not_contains": ["values", "ignore_case"],
        "length": ["min", "max"],
        "latency": ["max_ms"],
        "cost": ["max_usd"],
        "tokens": ["max_output", "max_input"],
        "refusal": ["extra_patterns"],
        "pii": ["kinds"],
        "tool_calls": ["allowed", "schemas"],
        "reference_match": ["mode", "min_f1"],
        "system_prompt_leak": ["min_tokens"],
        "canary": ["values"],
        "injection": [],
    ]

    /// Loads and validates the config at `path`. Throws `ConfigErrors` with every problem found;
    /// returns warnings (problems that do not stop evald) beside the config.
    public static func load(path: String, environment: [String: String]) throws -> (EvaldConfig, warnings: [ConfigProblem]) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigErrors([
                ConfigProblem(
                    file: path, line: nil, key: "",
                    message: "cannot read the config file (\(error.localizedDescription)); pass --config FILE or set EVALD_CONFIG")
            ])
        }
        return try parse(yaml: text, path: path, environment: environment)
    }

    public static func parse(yaml text: String, path: String, environment: [String: String]) throws -> (EvaldConfig, warnings: [ConfigProblem]) {
        // Paths in the config are relative to its folder; make that folder absolute so the
        // daemon's paths (stored in the database) do not depend on its working directory.
        let path = path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigErrors([ConfigProblem(file: path, line: Self.line(of: error), key: "", message: "not valid YAML: \(Self.shortDescription(error))")])
        }
        let walker = YAMLWalker(file: path, environment: environment)
        let config = read(root, walker: walker, path: path)
        let errors = walker.problems.filter { $0.severity == .error }
        guard errors.isEmpty else { throw ConfigErrors(walker.problems) }
        return (config, walker.problems)
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    static func shortDescription(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): return problem
        default: return "\(error)"
        }
    }

    private static func read(_ root: Node?, walker w: YAMLWalker, path: String) -> EvaldConfig {
        let base = ((path as NSString).deletingLastPathComponent as NSString).standardizingPath
        func resolve(_ p: String) -> String {
            let expanded = (p as NSString).expandingTildeInPath
            let absolute = expanded.hasPrefix("/") ? expanded : ((base.isEmpty ? "." : base) as NSString).appendingPathComponent(expanded)
            return (absolute as NSString).standardizingPath
        }
        let top = w.mapping(
            root, "",
            allowed: [
                "state_dir", "spool", "sampling", "checks", "endpoints", "judge", "detection", "alerts",
                "golden", "calibration", "retention", "http", "otlp", "shutdown_grace", "log_level", "storage",
                "pricing", "budgets", "budgets_timezone", "report",
            ])
        if root == nil || top.isEmpty, w.problems.isEmpty {
            w.report(root, "", "the config is empty; at least spool.dir is required")
        }

        let stateDir = resolve(
            w.string(top["state_dir"], "state_dir") ?? w.environment["STATE_DIRECTORY"]?.split(separator: ":").first.map(String.init) ?? "./state")

        // spool
        let s = w.mapping(top["spool"], "spool", allowed: ["dir", "poll_interval", "max_line_bytes", "after_read", "idle_after", "validate"])
        var spool = SpoolConfig(dir: "")
        if let dir = w.string(s["dir"], "spool.dir") {
            spool.dir = resolve(dir)
        } else {
            w.report(top["spool"] ?? root, "spool.dir", "is required: the directory the collector or application writes traces to")
        }
        spool.pollInterval = w.duration(s["poll_interval"], "spool.poll_interval", default: spool.pollInterval)
        if spool.pollInterval <= 0 { w.report(s["poll_interval"], "spool.poll_interval", "must be greater than 0") }
        spool.maxLineBytes = w.int(s["max_line_bytes"], "spool.max_line_bytes", default: spool.maxLineBytes, min: 1024)
        spool.afterRead = SpoolConfig.AfterRead(rawValue: w.oneOf(s["after_read"], "spool.after_read", ["keep", "delete"], default: "keep"))!
        spool.idleAfter = w.duration(s["idle_after"], "spool.idle_after", default: spool.idleAfter)
        if spool.idleAfter < 1 { w.report(s["idle_after"], "spool.idle_after", "must be at least 1s: a writer needs time to finish its line") }
        spool.validate = SpoolConfig.Validation(rawValue: w.oneOf(s["validate"], "spool.validate", ["sampled", "all"], default: "sampled"))!

        // sampling
        let sm = w.mapping(top["sampling"], "sampling", allowed: ["rate", "routes", "boost_rate", "min_per_minute", "max_rate", "shard"])
        var sampling = SamplingConfig()
        sampling.rate = w.rate(sm["rate"], "sampling.rate", default: sampling.rate)
        for (glob, node) in w.orderedMapping(sm["routes"], "sampling.routes") {
            sampling.routes.append((Glob(glob), w.rate(node, "sampling.routes.\(glob)", default: sampling.rate)))
        }
        if sm["boost_rate"] != nil { sampling.boostRate = w.rate(sm["boost_rate"], "sampling.boost_rate", default: 0.05) }
        sampling.minPerMinute = w.double(sm["min_per_minute"], "sampling.min_per_minute", default: 0, range: 0...1e9)
        sampling.maxRate = w.rate(sm["max_rate"], "sampling.max_rate", default: sampling.maxRate)
        if let shardText = w.string(sm["shard"], "sampling.shard") {
            if let shard = Shard(parsing: shardText) {
                sampling.shard = shard
            } else {
                w.report(sm["shard"], "sampling.shard", "\"\(shardText)\" is not K/N with 1 <= K <= N (e.g. \"2/4\")")
            }
        }

        // checks
        var checks: [RouteChecks] = []
        for (glob, node) in w.orderedMapping(top["checks"], "checks") {
            var names = Set<String>()
            var list: [CheckConfig] = []
            for (index, item) in w.sequence(node, "checks.\(glob)").enumerated() {
                let at = "checks.\(glob)[\(index)]"
                guard case .mapping = item else { w.report(item, at, "must be a mapping like {name: fast, kind: latency, max_ms: 8000}"); continue }
                let kindText = w.string(item["kind"], "\(at).kind")
                guard let kind = kindText, let allowed = checkParameters[kind].map({ $0.union(["target"]) }) else {
                    w.report(
                        item["kind"] ?? item, "\(at).kind",
                        kindText.map { "unknown check kind \"\($0)\"; known kinds: \(checkParameters.keys.sorted().joined(separator: ", "))" } ?? "is required")
                    continue
                }
                let members = w.mapping(item, at, allowed: allowed.union(["name", "kind", "min_pass_rate"]))
                guard let name = w.string(members["name"], "\(at).name"), !name.isEmpty else {
                    w.report(item, "\(at).name", "is required (a name unique within the route)")
                    continue
                }
                if !names.insert(name).inserted { w.report(members["name"], "\(at).name", "\"\(name)\" is used twice in route \"\(glob)\"") }
                var parameters: [String: ConfigValue] = [:]
                for key in allowed { if let n = members[key] { parameters[key] = w.value(n, "\(at).\(key)") } }
                if case .string(let schema)? = parameters["schema"] { parameters["schema"] = .string(resolve(schema)) }
                if case .map(let schemas)? = parameters["schemas"] {
                    parameters["schemas"] = .map(schemas.mapValues { value in value.string.map { .string(resolve($0)) } ?? value })
                }
                let minPass = members["min_pass_rate"].map { w.rate($0, "\(at).min_pass_rate", default: 0) }
                list.append(CheckConfig(name: name, kind: kind, parameters: parameters, minPassRate: minPass, keyPath: at, line: item.mark?.line))
            }
            checks.append(RouteChecks(glob: Glob(glob), checks: list))
        }

        // endpoints
        var endpoints: [String: EndpointConfig] = [:]
        for (name, node) in w.orderedMapping(top["endpoints"], "endpoints") {
            let at = "endpoints.\(name)"
            let e = w.mapping(
                node, at,
                allowed: [
                    "kind", "base_url", "model", "api_key_env", "api_key_file", "concurrency", "timeout", "daily_token_budget", "json_mode", "max_retries",
                ])
            let kind = EndpointConfig.Kind(rawValue: w.oneOf(e["kind"], "\(at).kind", ["openai", "anthropic"], default: "openai"))!
            let defaultURL = kind == .anthropic ? "https://api.anthropic.com" : ""
            let baseURL = w.string(e["base_url"], "\(at).base_url") ?? defaultURL
            if baseURL.isEmpty {
                w.report(node, "\(at).base_url", "is required for kind openai (e.g. http://127.0.0.1:11434/v1 for Ollama)")
            } else if URL(string: baseURL)?.scheme.map({ ["http", "https"].contains($0) }) != true {
                w.report(e["base_url"], "\(at).base_url", "is not an http(s) URL (the value is not shown: it may carry credentials)")
            }
            guard let model = w.string(e["model"], "\(at).model") else {
                w.report(node, "\(at).model", "is required")
                continue
            }
            var endpoint = EndpointConfig(name: name, kind: kind, baseURL: baseURL, model: model)
            endpoint.apiKeyEnv = w.string(e["api_key_env"], "\(at).api_key_env")
            endpoint.apiKeyFile = w.string(e["api_key_file"], "\(at).api_key_file")
            if endpoint.apiKeyEnv != nil, endpoint.apiKeyFile != nil {
                w.report(e["api_key_file"], "\(at).api_key_file", "give either api_key_env or api_key_file, not both")
            }
            endpoint.concurrency = w.int(e["concurrency"], "\(at).concurrency", default: 4, min: 1)
            endpoint.timeout = w.duration(e["timeout"], "\(at).timeout", default: 30)
            endpoint.dailyTokenBudget = w.optionalInt(e["daily_token_budget"], "\(at).daily_token_budget", min: 1)
            endpoint.jsonMode = w.bool(e["json_mode"], "\(at).json_mode", default: false)
            endpoint.maxRetries = w.int(e["max_retries"], "\(at).max_retries", default: 3)
            endpoints[name] = endpoint
        }

        // judge
        let j = w.mapping(top["judge"], "judge", allowed: ["dir", "default_endpoint", "redact_pii", "max_queue_age", "send", "recheck_sample"])
        var judge = JudgeConfig(dir: resolve(w.string(j["dir"], "judge.dir", default: "reference-judges")))
        judge.defaultEndpoint = w.string(j["default_endpoint"], "judge.default_endpoint") ?? (endpoints["default"] != nil ? "default" : nil)
        if let name = judge.defaultEndpoint, endpoints[name] == nil {
            w.report(j["default_endpoint"], "judge.default_endpoint", "names endpoint \"\(name)\", which is not defined under endpoints")
        }
        judge.redactPII = w.bool(j["redact_pii"], "judge.redact_pii", default: true)
        judge.maxQueueAge = w.duration(j["max_queue_age"], "judge.max_queue_age", default: judge.maxQueueAge)
        judge.recheckSample = w.int(j["recheck_sample"], "judge.recheck_sample", default: judge.recheckSample, min: 0)
        if j["send"] != nil {
            var send = Set<JudgeSendField>()
            for (index, node) in w.sequence(j["send"], "judge.send").enumerated() {
                guard let text = w.string(node, "judge.send[\(index)]") else { continue }
                if let field = JudgeSendField(rawValue: text) {
                    send.insert(field)
                } else {
                    w.report(
                        node, "judge.send[\(index)]",
                        "\"\(text)\" is not a trace field; use \(JudgeSendField.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            }
            judge.send = send
        }

        // detection
        let d = w.mapping(
            top["detection"], "detection",
            allowed: ["min_drop", "false_alarm_every", "baseline_min_samples", "resolve_samples", "drift_alpha", "drift_min_samples", "change_lookback"])
        var detection = DetectionConfig()
        detection.minDrop = w.double(d["min_drop"], "detection.min_drop", default: detection.minDrop, range: 0.001...1)
        detection.falseAlarmEvery = w.duration(d["false_alarm_every"], "detection.false_alarm_every", default: detection.falseAlarmEvery)
        detection.baselineMinSamples = w.int(d["baseline_min_samples"], "detection.baseline_min_samples", default: detection.baselineMinSamples, min: 1)
        detection.resolveSamples = w.int(d["resolve_samples"], "detection.resolve_samples", default: detection.resolveSamples, min: 1)
        detection.driftAlpha = w.double(d["drift_alpha"], "detection.drift_alpha", default: detection.driftAlpha, range: 1e-9...0.5)
        detection.driftMinSamples = w.int(d["drift_min_samples"], "detection.drift_min_samples", default: detection.driftMinSamples, min: 1)
        detection.changeLookback = w.duration(d["change_lookback"], "detection.change_lookback", default: detection.changeLookback)

        // alerts
        let a = w.mapping(
            top["alerts"], "alerts",
            allowed: [
                "runbook_url", "runbook_base", "repeat_interval", "resend_interval", "max_backoff", "max_age", "spool_stalled_after",
                "state_store_failing_after", "receivers",
            ])
        var alerts = AlertsConfig()
        alerts.runbookURL = w.string(a["runbook_url"], "alerts.runbook_url")
        if let runbookBase = w.string(a["runbook_base"], "alerts.runbook_base") {
            if runbookBase.trimmingCharacters(in: .whitespaces).isEmpty {
                w.report(a["runbook_base"], "alerts.runbook_base", "must not be empty: leave it out for the installed docs, or give a URL or a folder")
            } else {
                alerts.runbookBase = RunbookURL.base(configured: runbookBase, configDirectory: base.isEmpty ? "." : base)
            }
        }
        alerts.repeatInterval = w.duration(a["repeat_interval"], "alerts.repeat_interval", default: alerts.repeatInterval)
        alerts.resendInterval = w.duration(a["resend_interval"], "alerts.resend_interval", default: alerts.resendInterval)
        alerts.maxBackoff = w.duration(a["max_backoff"], "alerts.max_backoff", default: alerts.maxBackoff)
        alerts.maxAge = w.duration(a["max_age"], "alerts.max_age", default: alerts.maxAge)
        alerts.spoolStalledAfter = w.duration(a["spool_stalled_after"], "alerts.spool_stalled_after", default: alerts.spoolStalledAfter)
        alerts.stateStoreFailingAfter = w.duration(
            a["state_store_failing_after"], "alerts.state_store_failing_after", default: alerts.stateStoreFailingAfter)
        var receiverNames = Set<String>()
        for (index, node) in w.sequence(a["receivers"], "alerts.receivers").enumerated() {
            let at = "alerts.receivers[\(index)]"
            let r = w.mapping(
                node, at,
                allowed: [
                    "name", "kind", "url", "url_file", "url_env", "hmac_secret_file", "hmac_secret_env", "routing_key_file", "routing_key_env", "min_severity",
                    "resend_interval",
                ])
            guard let name = w.string(r["name"], "\(at).name") else { w.report(node, "\(at).name", "is required"); continue }
            if !receiverNames.insert(name).inserted { w.report(r["name"], "\(at).name", "receiver \"\(name)\" is defined twice") }
            guard let kindText = w.string(r["kind"], "\(at).kind"), let kind = ReceiverConfig.Kind(rawValue: kindText) else {
                w.report(r["kind"] ?? node, "\(at).kind", "must be one of: \(ReceiverConfig.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                continue
            }
            var receiver = ReceiverConfig(name: name, kind: kind)
            receiver.url = w.string(r["url"], "\(at).url")
            receiver.urlFile = w.string(r["url_file"], "\(at).url_file")
            receiver.urlEnv = w.string(r["url_env"], "\(at).url_env")
            receiver.hmacSecretFile = w.string(r["hmac_secret_file"], "\(at).hmac_secret_file")
            receiver.hmacSecretEnv = w.string(r["hmac_secret_env"], "\(at).hmac_secret_env")
            receiver.routingKeyFile = w.string(r["routing_key_file"], "\(at).routing_key_file")
            receiver.routingKeyEnv = w.string(r["routing_key_env"], "\(at).routing_key_env")
            receiver.minSeverity = w.string(r["min_severity"], "\(at).min_severity").map { _ in
                w.oneOf(r["min_severity"], "\(at).min_severity", ["info", "warning", "critical"], default: "info")
            }
            receiver.resendInterval = r["resend_interval"].map { w.duration($0, "\(at).resend_interval", default: alerts.resendInterval) }
            if kind == .pagerduty {
                if receiver.routingKeyFile == nil, receiver.routingKeyEnv == nil {
                    w.report(node, "\(at).routing_key_file", "a pagerduty receiver needs routing_key_file or routing_key_env")
                }
            } else if receiver.url == nil, receiver.urlFile == nil, receiver.urlEnv == nil {
                w.report(node, "\(at).url", "a \(kind.rawValue) receiver needs url, url_file or url_env")
            }
            alerts.receivers.append(receiver)
        }

        // golden
        let g = w.mapping(top["golden"], "golden", allowed: ["dir", "canary"])
        var golden = GoldenConfig(dir: resolve(w.string(g["dir"], "golden.dir", default: "golden")))
        if let canaryNode = g["canary"], !w.isNull(canaryNode) {
            let c = w.mapping(canaryNode, "golden.canary", allowed: ["set", "endpoint", "every"])
            let set = w.string(c["set"], "golden.canary.set")
            let endpoint = w.string(c["endpoint"], "golden.canary.endpoint")
            if set == nil { w.report(canaryNode, "golden.canary.set", "is required") }
            if endpoint == nil { w.report(canaryNode, "golden.canary.endpoint", "is required") }
            if let endpoint, endpoints[endpoint] == nil {
                w.report(c["endpoint"], "golden.canary.endpoint", "names endpoint \"\(endpoint)\", which is not defined under endpoints")
            }
            if let endpoint, !judge.send.contains(.input) {
                w.report(
                    c["endpoint"], "golden.canary.endpoint",
                    "the canary sends the set's conversations to endpoint \"\(endpoint)\", and judge.send does not let input leave evald; add input to judge.send or remove the canary"
                )
            }
            if let set, let endpoint {
                golden.canary = CanaryConfig(set: set, endpoint: endpoint, every: w.duration(c["every"], "golden.canary.every", default: 6 * 3600))
            }
        }

        let cal = w.mapping(top["calibration"], "calibration", allowed: ["min_kappa"])
        let calibration = CalibrationConfig(minKappa: w.double(cal["min_kappa"], "calibration.min_kappa", default: 0.6, range: -1...1))

        let ret = w.mapping(top["retention"], "retention", allowed: ["raw_days", "rollup_days", "max_db_bytes"])
        var maxDBBytes: Int64?
        if let text = w.string(ret["max_db_bytes"], "retention.max_db_bytes") {
            if let bytes = RetentionConfig.parseBytes(text), bytes >= RetentionConfig.minDBBytes {
                maxDBBytes = bytes
            } else {
                w.report(
                    ret["max_db_bytes"], "retention.max_db_bytes",
                    "\"\(text)\" is not a size of at least 1MiB; write bytes (e.g. 2000000000) or a number with KB, MB, GB, KiB, MiB or GiB")
            }
        }
        let retention = RetentionConfig(
            rawDays: w.int(ret["raw_days"], "retention.raw_days", default: 30, min: 1),
            rollupDays: w.int(ret["rollup_days"], "retention.rollup_days", default: 400, min: 1), maxDBBytes: maxDBBytes)

        let h = w.mapping(top["http"], "http", allowed: ["listen", "metrics_series_limit"])
        var http = HTTPConfig()
        http.metricsSeriesLimit = w.int(
            h["metrics_series_limit"], "http.metrics_series_limit", default: HTTPConfig.defaultMetricsSeriesLimit, min: 0)
        if let listenNode = h["listen"] {
            let listen = w.string(listenNode, "http.listen") ?? ""
            if listen.isEmpty {
                http.listen = nil
            } else if listen.split(separator: ":").last.flatMap({ Int($0) }) == nil {
                w.report(listenNode, "http.listen", "\"\(listen)\" is not host:port (e.g. 127.0.0.1:9464); leave it empty to disable")
            } else {
                http.listen = listen
            }
        }

        var otlp = OTLPConfig()
        if let otlpNode = top["otlp"] {
            let o = w.mapping(otlpNode, "otlp", allowed: ["listen", "max_body", "max_spool_bytes", "token_file"])
            // The section turns the receiver on; `listen: ""` turns it off again.
            otlp.listen = OTLPConfig.defaultListen
            if let listenNode = o["listen"] {
                let listen = w.string(listenNode, "otlp.listen") ?? ""
                if listen.isEmpty {
                    otlp.listen = nil
                } else if listen.split(separator: ":").last.flatMap({ Int($0) }) == nil {
                    w.report(listenNode, "otlp.listen", "\"\(listen)\" is not host:port (e.g. 127.0.0.1:4318); leave it empty to disable the receiver")
                } else {
                    otlp.listen = listen
                }
            }
            func size(_ key: String, default value: Int64, min: Int64, minText: String) -> Int64 {
                guard let node = o[key] else { return value }
                let text = w.string(node, "otlp.\(key)") ?? ""
                guard let bytes = RetentionConfig.parseBytes(text), bytes >= min else {
                    w.report(node, "otlp.\(key)", "\"\(text)\" is not a size of at least \(minText); write bytes or a number with KiB, MiB or GiB (e.g. 8MiB)")
                    return value
                }
                return bytes
            }
            otlp.maxBody = size("max_body", default: otlp.maxBody, min: 1024, minText: "1KiB")
            otlp.maxSpoolBytes = size("max_spool_bytes", default: otlp.maxSpoolBytes, min: 1 << 20, minText: "1MiB")
            if let tokenNode = o["token_file"] {
                otlp.tokenFile = w.string(tokenNode, "otlp.token_file")
            }
        }
        let st = w.mapping(top["storage"], "storage", allowed: ["redact"])
        let storage = StorageConfig(redact: w.bool(st["redact"], "storage.redact", default: false))

        let shutdownGrace = w.duration(top["shutdown_grace"], "shutdown_grace", default: 10)
        let logLevel = w.oneOf(top["log_level"], "log_level", ["trace", "debug", "info", "notice", "warning", "error", "critical"], default: "info")

        var config = EvaldConfig(
            sourcePath: path, stateDir: stateDir, spool: spool, sampling: sampling, checks: checks,
            endpoints: endpoints, judge: judge, detection: detection, alerts: alerts, golden: golden,
            calibration: calibration, retention: retention, http: http, otlp: otlp, shutdownGrace: shutdownGrace,
            logLevel: logLevel, storage: storage)
        config.usage = readUsage(
            top, walker: w, receivers: Dictionary(alerts.receivers.map { ($0.name, $0.kind) }, uniquingKeysWith: { a, _ in a }))
        return config
    }
}

private extension Node {
    subscript(key: String) -> Node? {
        guard case .mapping(let mapping) = self else { return nil }
        return mapping.first { $0.key.string == key }?.value
    }
}
