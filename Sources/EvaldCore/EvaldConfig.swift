import Foundation

/// The whole configuration, with every default filled in and every
/// relative path made absolute against the config file's folder.
public struct EvaldConfig: Sendable {
    public var sourcePath: String
    public var stateDir: String
    public var spool: SpoolConfig
    public var sampling: SamplingConfig
    public var checks: [RouteChecks]
    public var endpoints: [String: EndpointConfig]
    public var judge: JudgeConfig
    public var detection: DetectionConfig
    public var alerts: AlertsConfig
    public var golden: GoldenConfig
    public var calibration: CalibrationConfig
    public var retention: RetentionConfig
    public var http: HTTPConfig
    /// The OTLP/HTTP receiver; off (nil `listen`) unless the `otlp` section is given.
    public var otlp = OTLPConfig()
    public var shutdownGrace: Double
    public var logLevel: String
    /// `pricing`, `budgets`, `budgets_timezone`, `report` (SPEC 7b).
    public var usage = UsageConfig()
    /// `storage`: how traces are kept in the database.
    public var storage = StorageConfig()

    public var databasePath: String { (stateDir as NSString).appendingPathComponent("evald.db") }
}

public struct SpoolConfig: Sendable {
    public enum AfterRead: String, Sendable { case keep, delete }
    public var dir: String
    public var pollInterval: Double = 1
    public var maxLineBytes: Int = 4 * 1024 * 1024
    public var afterRead: AfterRead = .keep
    /// How long a file must stay unchanged before it counts as finished: its partial last
    /// line is then quarantined as incomplete, and with `after_read: delete` it is removed.
    public var idleAfter: Double = 300
    /// `sampled` (default): only sampled lines are fully decoded and validated, so an unsampled line costs little more than finding its trace id;
    /// `all`: every line's JSON structure and required fields are checked too.
    public var validate: Validation = .sampled

    public enum Validation: String, Sendable { case sampled, all }
}

public struct SamplingConfig: Sendable {
    public var rate: Double = 0.01
    public var routes: [(glob: Glob, rate: Double)] = []
    public var boostRate: Double?
    public var minPerMinute: Double = 0
    public var maxRate: Double = 0.25
    public var shard: Shard = .all

    /// The boost defaults to 5x the rate, at most 0.1.
    public var effectiveBoostRate: Double { boostRate ?? min(rate * 5, 0.1) }

    public func makeSampler() -> TraceSampler {
        TraceSampler(globalRate: rate, routeRates: routes, shard: shard)
    }
}

public struct CheckConfig: Sendable, Equatable {
    public var name: String
    public var kind: String
    /// Kind-specific parameters (`max_ms`, `schema`, `pattern`, ...), paths already resolved.
    public var parameters: [String: ConfigValue]
    public var minPassRate: Double?
    /// Where it is written (`checks.extract-*[0]`, line), for errors found when it is built.
    public var keyPath: String = ""
    public var line: Int?

    public init(name: String, kind: String, parameters: [String: ConfigValue], minPassRate: Double? = nil, keyPath: String = "", line: Int? = nil) {
        self.name = name
        self.kind = kind
        self.parameters = parameters
        self.minPassRate = minPassRate
        self.keyPath = keyPath
        self.line = line
    }
}

public struct RouteChecks: Sendable {
    public var glob: Glob
    public var checks: [CheckConfig]
}

public struct EndpointConfig: Sendable, Equatable {
    public enum Kind: String, Sendable { case openai, anthropic }
    public var name: String
    public var kind: Kind
    public var baseURL: String
    public var model: String
    public var apiKeyEnv: String?
    public var apiKeyFile: String?
    public var concurrency: Int = 4
    public var timeout: Double = 30
    public var dailyTokenBudget: Int?
    public var jsonMode: Bool = false
    public var maxRetries: Int = 3
}

public struct JudgeConfig: Sendable {
    public var dir: String
    public var defaultEndpoint: String?
    public var redactPII: Bool = true
    public var maxQueueAge: Double = 86400
    /// The trace fields that may leave for a judge endpoint at all.
    public var send: Set<JudgeSendField> = JudgeSendField.defaults
    /// Stored traces judged again when a judge's own version switches (its reply's model or
    /// system fingerprint), to tell whether its verdicts moved (`JudgeDrift`); 0: none.
    public var recheckSample: Int = 200
}

public struct DetectionConfig: Sendable {
    public var minDrop: Double = 0.05
    public var falseAlarmEvery: Double = 30 * 86400
    public var baselineMinSamples: Int = 1000
    public var resolveSamples: Int = 100
    public var driftAlpha: Double = 0.01
    public var driftMinSamples: Int = 100
    /// A prompt version or model not answered on a route for this long is new again.
    public var changeLookback: Double = 7 * 86400
}

public struct ReceiverConfig: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case alertmanager, webhook, slack, pagerduty }
    public var name: String
    public var kind: Kind
    public var url: String?
    public var urlFile: String?
    public var urlEnv: String?
    public var hmacSecretFile: String?
    public var hmacSecretEnv: String?
    public var routingKeyFile: String?
    public var routingKeyEnv: String?
    public var minSeverity: String?
    public var resendInterval: Double?
}

public struct AlertsConfig: Sendable {
    public var runbookURL: String?
    /// Where the alert reference (`alerts.md`) lives when `runbookURL` is not set: a URL
    /// without a trailing slash.
    public var runbookBase: String = RunbookURL.installedDocsBase(executablePath: RunbookURL.runningExecutablePath)
    public var repeatInterval: Double = 4 * 3600
    public var resendInterval: Double = 60
    public var maxBackoff: Double = 300
    public var maxAge: Double = 86400
    public var spoolStalledAfter: Double = 900
    /// How long the state database may refuse commits (a full disk, a lock held) before
    /// `StateStoreFailing` fires.
    public var stateStoreFailingAfter: Double = 60
    public var receivers: [ReceiverConfig] = []

    /// The `runbook_url` annotation of an alert with these labels.
    public func runbookAnnotation(labels: [String: String]) -> String {
        RunbookURL.url(template: runbookURL, base: runbookBase, labels: labels)
    }
}

public struct CanaryConfig: Sendable {
    public var set: String
    public var endpoint: String
    public var every: Double
}

public struct GoldenConfig: Sendable {
    public var dir: String
    public var canary: CanaryConfig?
}

public struct StorageConfig: Sendable {
    /// `storage.redact` (default false): store records and quarantine excerpts with every PII
    /// match replaced by `[REDACTED:<kind>]`, and overwrite freed pages (`secure_delete`).
    public var redact = false

    public init(redact: Bool = false) { self.redact = redact }
}

public struct CalibrationConfig: Sendable {
    public var minKappa: Double = 0.6
}

public struct RetentionConfig: Sendable {
    public var rawDays: Int = 30
    public var rollupDays: Int = 400
    /// The state database's size limit in bytes (`retention.max_db_bytes`); nil: no limit.
    public var maxDBBytes: Int64?

    /// The smallest limit accepted: below it the rollups and detection state alone may not fit.
    public static let minDBBytes: Int64 = 1 << 20

    public init(rawDays: Int = 30, rollupDays: Int = 400, maxDBBytes: Int64? = nil) {
        self.rawDays = rawDays
        self.rollupDays = rollupDays
        self.maxDBBytes = maxDBBytes
    }

    /// "512MB", "2GiB", "1000000": bytes (KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB of 1024).
    public static func parseBytes(_ text: String) -> Int64? {
        let trimmed = text.replacingOccurrences(of: "_", with: "").trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [
            ("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
            ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1),
        ]
        for (unit, factor) in units where trimmed.hasSuffix(unit) {
            guard let number = Double(trimmed.dropLast(unit.count).trimmingCharacters(in: .whitespaces)), number.isFinite, number >= 0 else { return nil }
            let bytes = number * factor
            return bytes < 9e18 ? Int64(bytes) : nil
        }
        return Int64(trimmed)
    }
}

/// `otlp`: the OTLP/HTTP traces receiver (`POST /v1/traces`), which appends what it accepts
/// to a spool file of its own.
public struct OTLPConfig: Sendable {
    public static let defaultListen = "127.0.0.1:4318"
    /// `host:port`; nil: no receiver (the default, and `listen: ""`).
    public var listen: String?
    /// The largest request body, as sent and after gzip.
    public var maxBody: Int64 = 8 << 20
    /// Above this many unread bytes in the spool directory requests are refused (503 with
    /// Retry-After) until the reader catches up.
    public var maxSpoolBytes: Int64 = 10 << 30
    /// The bearer token's file (`$CREDENTIALS_DIRECTORY`, else the config's folder, for a
    /// relative name); nil: no token asked.
    public var tokenFile: String?

    public init(listen: String? = nil, maxBody: Int64 = 8 << 20, maxSpoolBytes: Int64 = 10 << 30, tokenFile: String? = nil) {
        self.listen = listen
        self.maxBody = maxBody
        self.maxSpoolBytes = maxSpoolBytes
        self.tokenFile = tokenFile
    }
}

public struct HTTPConfig: Sendable {
    /// The default of `http.metrics_series_limit`.
    public static let defaultMetricsSeriesLimit = 5000

    /// `host:port`; nil when disabled with an empty value.
    public var listen: String? = "127.0.0.1:9464"
    /// The most labelled quality series `/metrics` exports; what does not fit is counted in
    /// `evald_metrics_series_dropped_total`.
    public var metricsSeriesLimit = HTTPConfig.defaultMetricsSeriesLimit
}
