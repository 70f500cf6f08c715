import EvaldCore
import EvaldHTTP
import EvaldJudge
import EvaldStore
import Foundation
import Logging
import Synchronization

/// What `evald replay` was asked.
public struct ReplayRequest: Sendable {
    public var route: String
    public var endpoint: String
    /// The candidate's system message, and the file it came from; nil keeps production's.
    public var systemPrompt: String?
    public var systemPromptFile: String?
    /// The candidate model; nil keeps the endpoint's.
    public var model: String?
    public var sample: Int
    public var since: Date

    public init(route: String, endpoint: String, systemPrompt: String?, systemPromptFile: String?, model: String?, sample: Int, since: Date) {
        self.route = route
        self.endpoint = endpoint
        self.systemPrompt = systemPrompt
        self.systemPromptFile = systemPromptFile
        self.model = model
        self.sample = sample
        self.since = since
    }
}

/// Why a replay cannot run: bad input (exit 2) or the endpoint failing (exit 3).
public struct ReplayError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case badInput, endpointFailed }
    public var kind: Kind
    public var description: String
}

/// Replays stored production inputs of a route against a candidate (system prompt, model or
/// both) through the production endpoint client, scores each new answer with the route's checks
/// and judges next to the production answer to the same input, and stores every step: an input
/// is marked sent (committed) before its request goes out, so a kill at any moment followed by
/// `--resume` sends no input twice.
public struct ReplayRunner: Sendable {
    /// The candidate's answers are capped like the canary's.
    static let maxOutputTokens = 1_024

    let config: EvaldConfig
    let store: StateStore
    let transport: HTTPTransport
    let environment: [String: String]
    let logger: Logger
    let now: @Sendable () -> Date

    public init(
        config: EvaldConfig, store: StateStore, transport: HTTPTransport, logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.config = config
        self.store = store
        self.transport = transport
        self.environment = environment
        self.logger = logger
        self.now = now
    }

    /// Picks the inputs and stores the replay; returns its id.
    public func create(_ request: ReplayRequest) throws -> Int64 {
        guard config.endpoints[request.endpoint] != nil else {
            throw ReplayError(
                kind: .badInput,
                description:
                    "endpoint \"\(request.endpoint)\" is not in the config's endpoints (configured: \(config.endpoints.keys.sorted().joined(separator: ", ")))")
        }
        guard config.judge.send.contains(.input) else {
            throw ReplayError(
                kind: .badInput,
                description:
                    "replay sends the route's stored inputs to the endpoint, and judge.send does not let input leave evald; add input to judge.send to replay")
        }
        guard request.sample > 0 else { throw ReplayError(kind: .badInput, description: "--sample must be at least 1") }
        guard let version = try store.newestPromptVersion(route: request.route, since: request.since) else {
            throw ReplayError(
                kind: .badInput,
                description:
                    "route \"\(request.route)\" has no stored answer since \(RFC3339.format(request.since)); check the route name (`evald metrics` lists them) or widen --since"
            )
        }
        let sample = try store.replaySample(route: request.route, promptVersion: version, since: request.since, count: request.sample)
        return try store.createReplay(
            route: request.route, endpoint: request.endpoint, model: request.model, systemPrompt: request.systemPrompt,
            systemPromptFile: request.systemPromptFile, promptVersion: version, evaluations: sample, at: now())
    }

    /// Runs the replay's pending inputs, at most `concurrency` at a time, until they are done or
    /// `budgetTokens` (the candidate endpoint's tokens in this run, prompt and answer) is spent. Returns the stored
    /// replay as it then stands.
    public func run(replayID: Int64, concurrency: Int?, budgetTokens: Int?) async throws -> StoredReplay {
        guard var replay = try store.replay(id: replayID) else {
            throw ReplayError(kind: .badInput, description: "no replay r-\(replayID) in \(config.databasePath)")
        }
        guard var endpoint = config.endpoints[replay.endpoint] else {
            throw ReplayError(kind: .badInput, description: "replay r-\(replayID) used endpoint \"\(replay.endpoint)\", which is no longer in the config")
        }
        let interrupted = try store.interruptSentReplayItems(replayID: replayID)
        if interrupted > 0 {
            logger.warning("replay.interrupted_items", metadata: ["replay": "r-\(replayID)", "items": "\(interrupted)", "action": "not sent again"])
        }
        if let model = replay.model { endpoint.model = model }
        if let concurrency { endpoint.concurrency = max(1, concurrency) }
        let configDirectory = (config.sourcePath as NSString).deletingLastPathComponent
        let key: Secret?
        do {
            key = try SecretLoader.load(
                env: endpoint.apiKeyEnv, file: endpoint.apiKeyFile,
                key: "endpoints.\(replay.endpoint).\(endpoint.apiKeyEnv != nil ? "api_key_env" : "api_key_file")",
                configDirectory: configDirectory, environment: environment)
        } catch {
            throw ReplayError(kind: .badInput, description: "\(error)")
        }
        let target = JudgeEndpointClient(endpoint: endpoint, apiKey: key, transport: transport, retry: RetryPolicy(maxRetries: endpoint.maxRetries))
        let (roster, _) = try JudgeRoster.build(config: config, transport: transport, environment: environment)
        let scorer = GoldenRunner(checks: try Daemon.makeCheckPlan(config), roster: roster)
        let detector: PIIDetector? = config.judge.redactPII ? PIIDetector() : nil

        let pending = replay.items.filter { $0.state == .pending }
        let asked = replay
        let budget = Budget(limit: budgetTokens)
        var stopped: String?
        var endpointFailures = 0, endpointAnswers = 0
        var lastFailure: String?
        await withTaskGroup(of: ItemOutcome.self) { group in
            var next = 0
            let lanes = max(1, endpoint.concurrency)
            func launch() -> Bool {
                guard next < pending.count else { return false }
                if let reason = budget.exhausted() {
                    stopped = reason
                    return false
                }
                let item = pending[next]
                next += 1
                group.addTask {
                    await self.replayItem(item, replay: asked, target: target, scorer: scorer, detector: detector, budget: budget)
                }
                return true
            }
            for _ in 0..<lanes where launch() {}
            while let outcome = await group.next() {
                switch outcome {
                case .answered: endpointAnswers += 1
                case .endpointFailed(let cause):
                    endpointFailures += 1
                    lastFailure = cause
                case .skipped: break
                }
                // Nothing answered and every try failed: the endpoint is down, stop sending.
                if endpointAnswers == 0, endpointFailures >= min(3, pending.count) {
                    stopped = "endpoint \(replay.endpoint) failed: \(lastFailure ?? "no answer")"
                    group.cancelAll()
                    break
                }
                _ = launch()
            }
        }
        replay = try store.replay(id: replayID) ?? replay
        if stopped == nil, replay.items.contains(where: { $0.state == .pending }) { stopped = "interrupted" }
        try store.finishReplayRun(replayID: replayID, stopped: kept(stopped), at: now())
        replay.stopped = stopped
        if endpointAnswers == 0, endpointFailures > 0 {
            throw ReplayError(kind: .endpointFailed, description: "endpoint \(replay.endpoint) failed on every input tried: \(lastFailure ?? "no answer")")
        }
        return replay
    }

    enum ItemOutcome: Sendable {
        case answered
        case endpointFailed(String)
        case skipped
    }

    /// Tokens spent by this run; the next input is not started once they reach the limit.
    final class Budget: Sendable {
        let limit: Int?
        private let spent = Mutex(0)

        init(limit: Int?) { self.limit = limit }

        func add(_ tokens: Int) { spent.withLock { $0 += tokens } }

        func exhausted() -> String? {
            guard let limit else { return nil }
            let used = spent.withLock { $0 }
            return used >= limit ? "budget: \(used) tokens used of --budget-tokens \(limit)" : nil
        }
    }

    private func replayItem(
        _ item: StoredReplay.Item, replay: StoredReplay, target: JudgeEndpointClient, scorer: GoldenRunner, detector: PIIDetector?,
        budget: Budget
    ) async -> ItemOutcome {
        func record(_ state: StoredReplay.Item.State, production: String? = nil, error: String) -> ItemOutcome {
            try? store.recordReplayItem(
                replayID: replay.id, position: item.position, state: state, productionOutput: kept(production), candidateOutput: nil,
                error: kept(error),
                production: nil, candidate: nil, tokens: 0, at: now())
            return .skipped
        }
        guard let json = try? store.recordJSON(evaluationID: item.evaluationID), let value = try? JSONParser.parse(json),
            let stored = try? NativeRecordDecoder.decode(value)
        else { return record(.failed, error: "evaluation \(item.evaluationID) is no longer stored (retention)") }
        let production = GoldenCase(
            id: "\(item.evaluationID)", line: item.position + 1, record: stored, metadata: JudgePromptBuilder.metadataStrings(value["metadata"]))
        var messages = stored.input
        guard !messages.isEmpty, let productionOutput = stored.output else {
            return record(.failed, production: stored.output, error: "evaluation \(item.evaluationID) has no input or no answer to compare")
        }
        if let prompt = replay.systemPrompt {
            if let index = messages.firstIndex(where: { $0.role == "system" || $0.role == "developer" }) {
                messages[index].content = prompt
            } else {
                messages.insert(TraceRecord.Message(role: "system", content: prompt), at: 0)
            }
        }
        // What leaves for the endpoint is redacted as judge prompts are.
        let request = JudgeRequest(
            messages: messages.map { JudgeRequest.Message(role: $0.role, content: detector?.redact($0.content) ?? $0.content) },
            temperature: 0, maxOutputTokens: Self.maxOutputTokens)
        do {
            try store.markReplayItemSent(replayID: replay.id, position: item.position)
        } catch {
            return .skipped
        }
        let completion: JudgeCompletion
        do {
            completion = try await target.complete(request)
        } catch {
            let cause = "\(error.kind.rawValue): \(error.message)"
            try? store.recordReplayItem(
                replayID: replay.id, position: item.position, state: .failed, productionOutput: kept(productionOutput), candidateOutput: nil,
                error: kept(cause), production: nil, candidate: nil, tokens: 0, at: now())
            return .endpointFailed(cause)
        }
        // A server that reports no usage (some local ones) is charged an estimate: 4 characters a token.
        let reported = completion.inputTokens + completion.outputTokens
        let tokens = reported > 0 ? reported : (request.messages.reduce(0) { $0 + $1.content.utf8.count } + completion.text.utf8.count + 3) / 4
        budget.add(tokens)
        var candidate = production.answered(
            output: completion.text, toolCalls: completion.toolCalls, latencyMs: completion.latencyMs, inputTokens: completion.inputTokens,
            outputTokens: completion.outputTokens)
        candidate.record.model = replay.model ?? stored.model
        candidate.record.responseModel = completion.responseModel
        let result = await scorer.run(set: "r-\(replay.id)", cases: [production, candidate])
        let (productionScores, candidateScores) = (Self.scores(result.cases[0], scorer), Self.scores(result.cases[1], scorer))
        try? store.recordReplayItem(
            replayID: replay.id, position: item.position, state: .done, productionOutput: kept(productionOutput),
            candidateOutput: kept(completion.text), error: nil, production: productionScores, candidate: candidateScores, tokens: tokens, at: now())
        return .answered
    }

    /// Text as the replay stores it: with `storage.redact`, PII replaced like in every other
    /// stored trace (the candidate's answer is new text; the production answer was stored
    /// before redaction was perhaps turned on). Scoring has already run on the text as it came.
    private func kept(_ text: String?) -> String? {
        guard config.storage.redact, let text else { return text }
        return StoredRedaction.text(text)
    }

    /// A scored case as the comparison reads it: checks and judges by metric, judge scores
    /// where the judge grades 1-5.
    static func scores(_ result: GoldenCaseResult, _ scorer: GoldenRunner) -> ReplayScores {
        var scores = ReplayScores()
        for check in result.checks { scores.passed["check:\(check.name)"] = check.passed }
        for judge in result.judges where judge.status == .scored {
            guard let passed = judge.passed else { continue }
            scores.passed["judge:\(judge.judge)"] = passed
            if let rubric = scorer.judges.first(where: { $0.rubric.name == judge.judge })?.rubric, rubric.scale == .numeric(min: 1, max: 5),
                let score = judge.score
            {
                scores.scores["judge:\(judge.judge)"] = score
            }
        }
        return scores
    }
}
