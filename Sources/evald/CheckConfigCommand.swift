import ArgumentParser
import EvaldCore
import EvaldDaemon
import EvaldHTTP
import EvaldReports
import Foundation

struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the config (and the files it names); print every problem with its file and key.",
        discussion: """
            With --probe, also send one tiny request (a few tokens, no retry, the endpoint's timeout) to each \
            configured endpoint and print how it answered or why it did not (e.g. "connection refused to \
            127.0.0.1:8080"). Exit codes: 0 ok, 1 an endpoint failed its probe, 2 a configuration problem.
            """)

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Send one tiny request to each endpoint and report how it answered.")
    var probe = false

    func run() async throws {
        let config = try options.load(printWarnings: false)
        let (_, warnings) = try EvaldConfig.load(path: config.sourcePath, environment: ProcessInfo.processInfo.environment)
        var problems = warnings
        let file = config.sourcePath
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: config.spool.dir, isDirectory: &isDirectory) || !isDirectory.boolValue {
            problems.append(
                ConfigProblem(
                    file: file, line: nil, key: "spool.dir", message: "\(config.spool.dir) does not exist (yet); evald waits for it to appear",
                    severity: .warning))
        } else if !FileManager.default.isReadableFile(atPath: config.spool.dir) {
            problems.append(ConfigProblem(file: file, line: nil, key: "spool.dir", message: "\(config.spool.dir) is not readable by this user"))
        }
        do {
            _ = try Daemon.makeCheckPlan(config)
        } catch {
            problems += error.problems
        }
        let judges = JudgeCatalog.load(
            directory: config.judge.dir, endpoints: config.endpoints, defaultEndpoint: config.judge.defaultEndpoint, send: config.judge.send)
        // Without an endpoint no judge could run anyway (as in examples/), so a missing folder is news only with one.
        if !config.endpoints.isEmpty, !FileManager.default.fileExists(atPath: config.judge.dir) {
            problems.append(
                ConfigProblem(file: file, line: nil, key: "judge.dir", message: "\(config.judge.dir) does not exist; no judge runs", severity: .warning))
        }
        // Secrets are loaded as the daemon loads them: a receiver without its secret stops the
        // daemon (error); an endpoint without its key only skips its judges (warning).
        let transport = HTTPTransport()
        do {
            _ = try Daemon.makeReceivers(config, transport: transport)
        } catch {
            problems += error.problems
        }
        try? await transport.shutdown()
        do {
            _ = try OTLPReceiver.loadToken(config)
        } catch {
            problems += error.problems
        }
        let configDirectory = (config.sourcePath as NSString).deletingLastPathComponent
        for (name, endpoint) in config.endpoints.sorted(by: { $0.key < $1.key }) {
            do {
                _ = try SecretLoader.load(
                    env: endpoint.apiKeyEnv, file: endpoint.apiKeyFile,
                    key: "endpoints.\(name).\(endpoint.apiKeyEnv != nil ? "api_key_env" : "api_key_file")",
                    configDirectory: configDirectory)
            } catch {
                problems.append(
                    ConfigProblem(
                        file: file, line: nil, key: error.key, message: error.message + " (its judges are skipped until it is there)", severity: .warning))
            }
        }
        // The canary's set must load, be locked and have a baseline, or every scheduled run
        // would only log a failure.
        if let canary = config.golden.canary {
            do {
                let set = try GoldenSetLoader.load(name: canary.set, config: config, rubrics: judges.catalog.rubrics)
                try GoldenSetLoader.verifyLock(set)
                if !FileManager.default.fileExists(atPath: set.baselinePath) {
                    problems.append(
                        ConfigProblem(
                            file: file, line: nil, key: "golden.canary.set",
                            message:
                                "golden set \(canary.set) has no baseline (\(set.baselinePath)); write one with `evald gate \(canary.set) --write-baseline`"))
                }
            } catch {
                let message = error.message.hasPrefix("evald: ") ? String(error.message.dropFirst(7)) : error.message
                problems.append(ConfigProblem(file: file, line: nil, key: "golden.canary.set", message: message))
            }
        }
        for problem in problems { CLIFailure.printError(problem.description) }
        for problem in judges.problems { CLIFailure.printError(problem.description) }
        let errors = problems.filter { $0.severity == .error }.count + judges.problems.count
        guard errors == 0 else {
            throw CLIFailure(code: CLIFailure.usage, message: "\(file): \(errors) error\(errors == 1 ? "" : "s")")
        }
        let checkCount = config.checks.reduce(0) { $0 + $1.checks.count }
        print(
            "\(file): ok (spool \(config.spool.dir), state \(config.databasePath), sampling rate \(config.sampling.rate), \(Self.count(checkCount, "check")) on \(Self.count(config.checks.count, "route pattern")), \(Self.count(config.endpoints.count, "endpoint")), \(Self.count(judges.catalog.rubrics.count, "judge")), \(Self.count(config.alerts.receivers.count, "receiver")))"
        )
        for rubric in judges.catalog.rubrics {
            let endpoint = JudgeCatalog.endpointName(of: rubric, defaultEndpoint: config.judge.defaultEndpoint) ?? "-"
            let length = (try? rubric.render(.example).count) ?? 0
            let passAt = rubric.scale == .passFail ? "" : ", pass_at \(rubric.passAt.formatted(.number.grouping(.never)))"
            print(
                "\(rubric.sourcePath): judge \(rubric.identity): applies_to [\(rubric.appliesToPatterns.joined(separator: ", "))], endpoint \(endpoint), scale \(rubric.scale)\(passAt): rendered OK (\(length) chars)"
            )
        }
        guard probe else { return }
        if config.endpoints.isEmpty {
            print("probe: no endpoints configured")
            return
        }
        let probeTransport = HTTPTransport()
        let results = await EndpointProbe.run(config: config, transport: probeTransport)
        try? await probeTransport.shutdown()
        for result in results {
            print("probe: endpoint \(result.endpoint): \(result.ok ? "" : "FAILED: ")\(result.detail)")
        }
        let failed = results.filter { !$0.ok }.map(\.endpoint)
        if !failed.isEmpty {
            throw CLIFailure(
                code: CLIFailure.failure, message: "\(file): probe failed for \(Self.count(failed.count, "endpoint")): \(failed.joined(separator: ", "))")
        }
    }

    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
}
