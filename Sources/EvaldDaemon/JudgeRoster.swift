import EvaldCore
import EvaldHTTP
import EvaldJudge
import EvaldReports
import Foundation
import Logging

/// The judges in force: each rubric with the endpoint client that runs it, or the reason it
/// cannot run under this configuration.
public struct JudgeRoster: Sendable {
    public struct Member: Sendable {
        public var rubric: JudgeRubric
        public var endpointName: String?
        public var client: JudgeEndpointClient?
        public var concurrency: Int
        /// The endpoint's `daily_token_budget`; nil for none.
        public var dailyTokenBudget: Int?
        /// Why the judge cannot run at all (no endpoint, no API key); nil when it can.
        public var unavailable: String?
        /// Whether its traces are queued: yes when its endpoint is configured, even while the
        /// key is missing (they wait for the fix and a reload), no when there is no endpoint.
        public var queues: Bool
    }

    public var members: [Member]
    public var redactPII: Bool
    public var maxQueueAge: Double
    /// `judge.recheck_sample`: traces judged again after a judge version switch.
    public var recheckSample: Int = 200

    public static let empty = JudgeRoster(members: [], redactPII: true, maxQueueAge: 86400)

    /// The judges whose traces are queued at ingest.
    public var routing: JudgeRouting {
        JudgeRouting(members.filter(\.queues).map { .init(name: $0.rubric.name, appliesTo: $0.rubric.appliesTo) })
    }

    public func member(named name: String) -> Member? { members.first { $0.rubric.name == name } }

    /// Loads the rubric files and makes one client per endpoint in use, all on one transport.
    /// A broken rubric is a configuration error (evald refuses to start, a reload is refused);
    /// a missing API key only stops the judges that need it, so checks and ingestion go on.
    public static func build(
        config: EvaldConfig, transport: HTTPTransport,
        environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger = Logger(label: "evald.judge")
    ) throws(ConfigErrors) -> (roster: JudgeRoster, warnings: [String]) {
        let (catalog, problems) = JudgeCatalog.load(
            directory: config.judge.dir, endpoints: config.endpoints, defaultEndpoint: config.judge.defaultEndpoint, send: config.judge.send)
        if !problems.isEmpty {
            throw ConfigErrors(problems.map { ConfigProblem(file: $0.path, line: $0.line, key: $0.key ?? "judge", message: $0.message) })
        }
        let configDirectory = (config.sourcePath as NSString).deletingLastPathComponent
        var clients: [String: Result<JudgeEndpointClient, SecretLoadError>] = [:]
        var warnings: [String] = []
        var members: [Member] = []
        for rubric in catalog.rubrics {
            let endpointName = rubric.endpoint ?? config.judge.defaultEndpoint
            guard let endpointName, let endpoint = config.endpoints[endpointName] else {
                members.append(
                    Member(
                        rubric: rubric, endpointName: endpointName, client: nil, concurrency: 0, dailyTokenBudget: nil,
                        unavailable: "no judge endpoint configured; " + JudgeCatalog.enableHint, queues: false))
                continue
            }
            if clients[endpointName] == nil {
                clients[endpointName] = Result { () throws(SecretLoadError) -> JudgeEndpointClient in
                    let key = try SecretLoader.load(
                        env: endpoint.apiKeyEnv, file: endpoint.apiKeyFile,
                        key: "endpoints.\(endpointName).\(endpoint.apiKeyEnv != nil ? "api_key_env" : "api_key_file")",
                        configDirectory: configDirectory, environment: environment)
                    return JudgeEndpointClient(
                        endpoint: endpoint, apiKey: key, transport: transport,
                        retry: RetryPolicy(maxRetries: endpoint.maxRetries), logger: logger)
                }
                if case .failure(let error) = clients[endpointName]! { warnings.append("\(error)") }
            }
            switch clients[endpointName]! {
            case .success(let client):
                members.append(
                    Member(
                        rubric: rubric, endpointName: endpointName, client: client, concurrency: endpoint.concurrency,
                        dailyTokenBudget: endpoint.dailyTokenBudget, unavailable: nil, queues: true))
            case .failure(let error):
                members.append(
                    Member(
                        rubric: rubric, endpointName: endpointName, client: nil, concurrency: 0,
                        dailyTokenBudget: endpoint.dailyTokenBudget, unavailable: "endpoint \(endpointName) has no API key: \(error)", queues: true))
            }
        }
        var roster = JudgeRoster(members: members, redactPII: config.judge.redactPII, maxQueueAge: config.judge.maxQueueAge)
        roster.recheckSample = config.judge.recheckSample
        return (roster, warnings)
    }
}
