import EvaldAlerting
import EvaldCore
import EvaldHTTP
import EvaldJudge
import EvaldStore
import Foundation
import Logging
import ServiceLifecycle

/// Canary replay (`golden.canary`): every `every`, sends each case's conversation of a
/// locked golden set to the production endpoint, scores the fresh answers with the set's
/// checks and judges, compares them with the set's baseline and fires `GoldenRegression`
/// when a metric falls below it, resolving it when a later run is back within tolerance.
/// The provider versions the endpoint reports feed a drift watch of their own (route
/// `canary:SET`), so a silent model update is seen even when production traffic is quiet.
///
/// The run, the watch's state and the alerts are stored in one transaction; the schedule is
/// kept in the database, so a restart neither skips nor repeats a run.
public struct CanaryService: Service {
    /// Below this share of cases answered the run says nothing about quality (the endpoint
    /// is failing, and the health alerts speak to that); it is recorded as failed.
    static let minAnsweredShare = 0.8
    static let maxOutputTokens = 1_024

    let store: StateStore
    let setups: SetupSource
    let transport: HTTPTransport
    let logger: Logger
    let environment: [String: String]
    let now: @Sendable () -> Date

    public init(
        store: StateStore, setups: SetupSource, transport: HTTPTransport, logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.setups = setups
        self.transport = transport
        self.logger = logger
        self.environment = environment
        self.now = now
    }

    public func run() async throws {
        await BlockingExecutor.shared.run {
            await cancelWhenGracefulShutdown { await self.loop() }
        }
    }

    /// Follows reloads: each pass reads the setup in force (the canary's settings, the
    /// receivers, the judges).
    private func loop() async {
        while !Task.isCancelled {
            let setup = setups.current
            guard let canary = setup.config.golden.canary else {
                // Removed by a reload: idle until one brings it back.
                do { try await Task.sleep(for: .seconds(30)) } catch { break }
                continue
            }
            let last = (try? store.canaryRuns(set: canary.set, limit: 1).first?.startedAt) ?? nil
            let wait = last.map { canary.every - now().timeIntervalSince($0) } ?? 0
            if wait <= 0 {
                do {
                    _ = try await runCanary(setup)
                } catch {
                    logger.error("canary.failed", metadata: ["set": "\(canary.set)", "error": "\(error)"])
                    // Recorded so the schedule moves on instead of retrying in a tight loop.
                    _ = try? store.commitCanaryRun(
                        CanaryRunRecord(
                            set: canary.set, endpoint: canary.endpoint, startedAt: now(),
                            finishedAt: now(), cases: 0, answered: 0, versions: [:], regressed: [],
                            error: "\(error)", resultJSON: "{}"),
                        states: [], actions: [], at: now())
                    // If even that could not be stored (the database is failing), do not spin.
                    do { try await Task.sleep(for: .seconds(5)) } catch { break }
                }
                continue
            }
            do { try await Task.sleep(for: .seconds(min(wait, 30))) } catch { break }
        }
    }

    public struct CanaryError: Error, CustomStringConvertible {
        public var description: String
    }

    /// One run now, on `setup`.
    public func runCanary(_ setup: DaemonSetup) async throws -> CanaryRunRecord {
        let (config, receivers, roster) = (setup.config, setup.receivers, setup.roster)
        guard let canary = config.golden.canary, let endpoint = config.endpoints[canary.endpoint] else {
            throw CanaryError(description: "golden.canary is not configured")
        }
        let startedAt = now()
        let configDirectory = (config.sourcePath as NSString).deletingLastPathComponent
        let key = try SecretLoader.load(
            env: endpoint.apiKeyEnv, file: endpoint.apiKeyFile,
            key: "endpoints.\(canary.endpoint).\(endpoint.apiKeyEnv != nil ? "api_key_env" : "api_key_file")",
            configDirectory: configDirectory, environment: environment)
        let target = JudgeEndpointClient(endpoint: endpoint, apiKey: key, transport: transport, retry: RetryPolicy(maxRetries: endpoint.maxRetries))
        let set = try GoldenSetLoader.load(name: canary.set, config: config, rubrics: roster.members.map(\.rubric))
        try GoldenSetLoader.verifyLock(set)
        let baseline: GoldenBaseline? = try FileManager.default.contents(atPath: set.baselinePath).map {
            try GoldenBaseline.parse([UInt8]($0), path: set.baselinePath)
        }

        let all = await answer(set.cases, with: target)
        // Only answered cases are scored: a timeout is the endpoint's health, not the answers'
        // quality, and must not show up as a failing check.
        let replies = all.filter { $0.case.record.status == .ok }
        let answered = replies.count
        let result = await GoldenRunner(checks: setup.checks, roster: roster)
            .run(set: set.name, cases: replies.map(\.case), judgeTimeout: 600)
        var versions: [String: Int] = [:]
        for reply in replies { if let version = reply.version { versions[version, default: 0] += 1 } }

        // The drift watch of the canary's answers.
        let route = "canary:\(set.name)"
        let watchKey = "\(route)|\(endpoint.model)"
        var watch =
            try store.detectionState(kind: DetectionEngine.versionsKind, key: watchKey)
            .flatMap { try? DetectionEngine.decoder().decode(ProviderVersionWatch.self, from: Data($0.utf8)) }
            ?? ProviderVersionWatch(route: route, model: endpoint.model)
        let alerts = AlertBuilder(config: config, receivers: receivers)
        var actions: [DetectionAlertAction] = []
        let settings = DriftSettings(config.detection)
        for (reply, scored) in zip(replies, result.cases) {
            guard let version = reply.version else { continue }
            actions += alerts.versionActions(
                watch.noteAnswer(version: version, at: startedAt, evaluationID: 0, settings: settings),
                route: route, model: endpoint.model)
            for check in scored.checks {
                actions += alerts.versionActions(
                    watch.observe(version: version, metric: "check:\(check.name)", passed: check.passed),
                    route: route, model: endpoint.model)
            }
            for judge in scored.judges where judge.status == .scored {
                guard let passed = judge.passed else { continue }
                actions += alerts.versionActions(
                    watch.observe(version: version, metric: "judge:\(judge.judge)", passed: passed),
                    route: route, model: endpoint.model)
            }
        }

        var regressed: [String] = []
        var error: String?
        // Hysteresis across runs: a metric fires after two regressed runs in a row and resolves
        // after two clean ones. The gate's tolerance is a 95% bound per metric; with a dozen
        // metrics a run in which one dips by chance is common, two in a row on the same metric
        // are not, and a real regression persists.
        let previous = try store.canaryRuns(set: set.name, limit: 1).first.flatMap { $0.error == nil ? Set($0.regressed) : nil } ?? []
        let open = try store.alerts(includeResolved: false).filter { $0.name == "GoldenRegression" && $0.labels["golden_set"] == set.name }
        if Double(answered) < Self.minAnsweredShare * Double(max(1, set.cases.count)) {
            error = "only \(answered) of \(set.cases.count) cases were answered by endpoint \(canary.endpoint); no comparison with the baseline"
            logger.error("canary.unanswered", metadata: ["set": "\(set.name)", "answered": "\(answered)", "cases": "\(set.cases.count)"])
        } else if let baseline {
            let report = GoldenGate.compare(current: result.metrics, baseline: baseline)
            regressed = report.regressed.map(\.metric)
            for row in report.regressed where previous.contains(row.metric) {
                actions.append(
                    .fire(
                        goldenRegression(
                            row, endpoint: canary.endpoint, model: endpoint.model, set: set, result: result,
                            versions: versions, alerts: alerts),
                        receivers: alerts.receiverNames(.warning)))
            }
            for alert in open {
                guard let metric = alert.labels["metric"], !regressed.contains(metric), !previous.contains(metric) else { continue }
                let row = report.rows.first { $0.metric == metric }
                var numbers = ["cases": Double(answered)]
                numbers["baseline"] = row?.baseline
                numbers["current"] = row?.current
                actions.append(.resolve(fingerprint: alert.fingerprint, numbers: numbers, receivers: alerts.receiverNames(.warning)))
            }
        } else {
            error = "no baseline at \(set.baselinePath); write one with `evald gate \(set.name) --write-baseline`"
            logger.warning("canary.no_baseline", metadata: ["set": "\(set.name)", "path": "\(set.baselinePath)"])
        }

        let encoder = DetectionEngine.encoder()
        let run = CanaryRunRecord(
            set: set.name, endpoint: canary.endpoint, startedAt: startedAt, finishedAt: now(), cases: set.cases.count,
            answered: answered, versions: versions, regressed: regressed, error: error,
            resultJSON: String(decoding: try encoder.encode(result), as: UTF8.self))
        let state = DetectionStateRow(kind: DetectionEngine.versionsKind, key: watchKey, json: String(decoding: try encoder.encode(watch), as: UTF8.self))
        let fired = try store.commitCanaryRun(run, states: [state], actions: actions, at: now())
        logger.info(
            "canary.run",
            metadata: [
                "set": "\(set.name)", "cases": "\(set.cases.count)", "answered": "\(answered)",
                "regressed": "\(regressed.joined(separator: ","))", "versions": "\(versions.keys.sorted().joined(separator: ","))",
            ])
        for alert in fired {
            logger.warning(
                "alerts.firing",
                metadata: [
                    "alert": "\(alert.publicID)", "alertname": "\(alert.name)",
                    "summary": "\(alert.annotations["summary"] ?? "")",
                ])
        }
        return run
    }

    typealias Reply = GoldenReplayer.Reply

    private func answer(_ cases: [GoldenCase], with target: JudgeEndpointClient) async -> [Reply] {
        await GoldenReplayer.answer(cases, with: target, maxOutputTokens: Self.maxOutputTokens)
    }

    static func labels(set: String, metric: String, model: String, endpoint: String) -> [String: String] {
        AlertCatalog.goldenLabels(set: set, metric: metric, model: model, endpoint: endpoint)
    }

    private func goldenRegression(
        _ row: GateRow, endpoint: String, model: String, set: GoldenSet, result: GoldenRunResult,
        versions: [String: Int], alerts: AlertBuilder
    ) -> AlertFiring {
        var numbers: [String: Double] = ["cases": Double(result.cases.count)]
        numbers["baseline"] = row.baseline
        numbers["current"] = row.current
        numbers["tolerance"] = row.tolerance
        numbers["n"] = row.n.map(Double.init)
        numbers["baseline_n"] = row.baselineN.map(Double.init)
        let failingCases = result.cases.filter { scored in
            scored.checks.contains { !$0.passed && row.metric == "check:\($0.name)" }
                || scored.judges.contains { $0.passed == false && row.metric.hasPrefix("judge:\($0.judge)") }
        }.map(\.id)
        var firing = alerts.firing(
            "GoldenRegression", .warning, labels: Self.labels(set: set.name, metric: row.metric, model: model, endpoint: endpoint),
            summary:
                "Golden set \(set.name): \(row.metric) on \(model) fell from \(AlertCatalog.rate(row.baseline)) to \(AlertCatalog.rate(row.current)) in two canary runs in a row",
            description:
                "Canary replay of \(result.cases.count) answered cases against endpoint \(endpoint) (\(versions.keys.sorted().joined(separator: ", "))): \(row.metric) \(AlertCatalog.rate(row.baseline)) (baseline, n=\(row.baselineN ?? 0)) -> \(AlertCatalog.rate(row.current)) (n=\(row.n ?? 0)), beyond the tolerance \(AlertCatalog.rate(row.tolerance)) (the baseline's 95% Wilson half-width unless \(set.baselinePath) overrides it), in this run and the one before.",
            numbers: numbers, examples: [])
        if !failingCases.isEmpty { firing.annotations["cases"] = failingCases.prefix(5).joined(separator: ",") }
        return firing
    }
}
