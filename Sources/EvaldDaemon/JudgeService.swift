import EvaldCore
import EvaldHTTP
import EvaldJudge
import EvaldStore
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// The judge workers: take due judgements from the durable queue, call the judge, commit the
/// verdict. The queue row leaves the database only in the transaction that stores the verdict,
/// so a crash or a stop at any moment loses no trace and scores none twice.
public struct JudgeService: Service {
    /// How a `--once` drain ended.
    public struct DrainSummary: Sendable, Equatable {
        public var judged = 0
        public var errors = 0
        public var deferred = 0
        public var stillQueued = 0
        public var timedOut = false
        /// Stopped by Ctrl-C (SIGINT) on `run --once`: what was in flight stays queued.
        public var interrupted = false
        /// Set when nothing more can be judged now (every judge paused or unavailable).
        public var blockedReason: String?
    }

    enum Attempt: Sendable {
        case committed(isError: Bool)
        case deferred
        case cancelled
        /// The verdict (when there is one) is kept to be written again, never paid for twice.
        case failedToStore(JudgeVerdictRecord?)
    }

    private enum Event: Sendable {
        case tick
        case done(JudgementKey, Attempt)
        /// A recheck after a judge version switch: not a judgement of the queue.
        case rechecked(JudgementKey)
    }

    let store: StateStore
    let setups: SetupSource
    let runtime: DaemonRuntime
    let logger: Logger
    let now: @Sendable () -> Date
    let detector = PIIDetector()
    static let heldBackFor = 60.0
    static let tickInterval = 0.5

    /// A new process starts with closed circuits, so judgements put off by the last one's
    /// backoff are due again at once: an operator who fixed the endpoint and restarted sees scores.
    public init(store: StateStore, setups: SetupSource, runtime: DaemonRuntime, logger: Logger, now: @escaping @Sendable () -> Date = Date.init) {
        do { try store.makeDeferredJudgementsDue() } catch {
            logger.error("judge.queue_reset_failed", metadata: ["error": "\(error)"])
        }
        self.store = store
        self.setups = setups
        self.runtime = runtime
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        let stop = NIOLockedValueBox(false)
        // On SIGTERM: stop taking new work and let calls in flight finish; the group cancels
        // what is left after shutdown_grace, and those judgements simply stay queued.
        _ = await BlockingExecutor.shared.run {
            await withGracefulShutdownHandler {
                await self.dispatch(stopWhenIdle: false, deadline: nil, shouldStop: { stop.withLockedValue { $0 } })
            } onGracefulShutdown: {
                stop.withLockedValue { $0 = true }
            }
        }
        logger.info("judge.workers_stopped")
    }

    /// `evald run --once`: judges what is queued, returning when the queue is empty, nothing
    /// more can run, or `timeout` has passed (the rest stays queued).
    /// - Parameters:
    ///   - shouldStop: checked every round (Ctrl-C): calls in flight are cancelled and stay queued.
    ///   - progress: told the running totals about once a second (`evald status` shows them).
    public func drain(
        timeout: Double, shouldStop: @escaping @Sendable () -> Bool = { false },
        progress: (@Sendable (DrainSummary) -> Void)? = nil
    ) async -> DrainSummary {
        await BlockingExecutor.shared.run {
            await dispatch(stopWhenIdle: true, deadline: now() + timeout, shouldStop: shouldStop, progress: progress)
        }
    }

    /// The dispatch loop's own state: the judges in force and what this process remembers
    /// between rounds. Owned by the loop alone; the calls it starts get only values.
    final class Workers {
        var roster: JudgeRoster
        var rosterVersion: Int
        var lastStates: [String: JudgeHealth] = [:]
        var lastHousekeeping = Date.distantPast
        var lastStateWrite = Date.distantPast
        /// Set when housekeeping ran its once-a-second part (the --once progress is reported then).
        var ticked = false
        /// Judgements whose verdict or deferral could not be written (a full disk, a locked
        /// database): held back in memory so the loop does not pay for the same call again at once.
        var heldBack: [JudgementKey: Date] = [:]
        /// Verdicts paid for but not yet written; written again once a second, their judgements held back meanwhile.
        var unwritten: [JudgementKey: JudgeVerdictRecord] = [:]

        init(_ setup: DaemonSetup) {
            roster = setup.roster
            rosterVersion = setup.version
        }
    }

    private func dispatch(
        stopWhenIdle: Bool, deadline: Date?, shouldStop: @escaping @Sendable () -> Bool, progress: (@Sendable (DrainSummary) -> Void)? = nil
    ) async -> DrainSummary {
        let workers = Workers(setups.current)
        return await withTaskGroup(of: Event.self) { group in
            var summary = DrainSummary()
            var inFlight: [JudgementKey: String] = [:]
            var tickerRunning = false
            while true {
                let setup = setups.current
                if setup.version != workers.rosterVersion {
                    workers.roster = setup.roster
                    workers.rosterVersion = setup.version
                    workers.lastHousekeeping = .distantPast
                }
                let roster = workers.roster
                let timedOut = deadline.map { now() >= $0 } ?? false
                let stopped = stopWhenIdle && shouldStop()
                let stopping = shouldStop() || Task.isCancelled || timedOut
                if timedOut, !summary.timedOut {
                    // The timeout bounds the wait: calls in flight are cancelled and stay queued.
                    summary.timedOut = true
                    group.cancelAll()
                    tickerRunning = false
                }
                if stopped, !summary.interrupted {
                    // Ctrl-C on --once: the same, at once.
                    summary.interrupted = true
                    group.cancelAll()
                    tickerRunning = false
                }
                if stopping {
                    if inFlight.isEmpty { break }
                } else {
                    let runnable = housekeeping(workers)
                    if let progress, workers.ticked {
                        workers.ticked = false
                        summary.stillQueued = (try? store.judgeQueueSummary().depth) ?? summary.stillQueued
                        progress(summary)
                    }
                    var free: [String: Int] = [:]
                    for member in runnable {
                        guard let endpoint = member.endpointName else { continue }
                        // The endpoint's limit in force: lowered while its calls time out.
                        let limit = member.client?.concurrencyLimit ?? member.concurrency
                        free[endpoint] = limit - inFlight.values.count { $0 == endpoint }
                    }
                    let names = runnable.filter { (free[$0.endpointName ?? ""] ?? 0) > 0 }.map(\.rubric.name)
                    let capacity = free.values.reduce(0) { $0 + max(0, $1) }
                    var due: [PendingJudgement] = []
                    do {
                        due = try store.dueJudgements(
                            limit: capacity, now: now(), judges: names,
                            excluding: Set(inFlight.keys).union(heldBackKeys(workers)))
                    } catch {
                        logger.error("judge.queue_read_failed", metadata: ["error": "\(error)"])
                    }
                    for pending in due {
                        guard let member = roster.member(named: pending.judgeName), let endpoint = member.endpointName,
                            let slots = free[endpoint], slots > 0
                        else { continue }
                        free[endpoint] = slots - 1
                        inFlight[pending.key] = endpoint
                        let redact = roster.redactPII, recheckSample = roster.recheckSample
                        group.addTask { .done(pending.key, await self.judge(pending, member, redact: redact, recheckSample: recheckSample)) }
                    }
                    // Capacity the queue left: rechecks after a judge version switch (they wait
                    // behind production traces, never ahead of them).
                    let spare = free.values.reduce(0) { $0 + max(0, $1) }
                    if spare > 0, due.count < capacity {
                        var rechecks: [PendingRecheck] = []
                        do {
                            rechecks = try store.dueRechecks(limit: spare, now: now(), judges: names, excluding: Set(inFlight.keys))
                        } catch {
                            logger.error("judge.recheck_read_failed", metadata: ["error": "\(error)"])
                        }
                        for pending in rechecks {
                            guard let member = roster.member(named: pending.judgeName), let endpoint = member.endpointName,
                                let slots = free[endpoint], slots > 0
                            else { continue }
                            free[endpoint] = slots - 1
                            inFlight[pending.key] = endpoint
                            let redact = roster.redactPII
                            group.addTask {
                                await self.recheck(pending, member, redact: redact)
                                return .rechecked(pending.key)
                            }
                        }
                    }
                    if stopWhenIdle, inFlight.isEmpty {
                        let waiting = (try? store.judgeQueueSummary().waitingByJudge) ?? [:]
                        let runnableNames = Set(runnable.map(\.rubric.name))
                        summary.stillQueued = waiting.values.reduce(0, +)
                        // Done when nothing a runnable judge could take is left; what waits for a
                        // paused or unavailable judge stays queued for the daemon.
                        let rechecking =
                            (try? store.dueRechecks(limit: 1, now: .distantFuture, judges: Array(runnableNames), excluding: [])).map { !$0.isEmpty } ?? false
                        if !waiting.keys.contains(where: runnableNames.contains), !rechecking {
                            if summary.stillQueued > 0 { summary.blockedReason = blockedReason(workers) }
                            break
                        }
                    }
                }
                // No ticker while stopping: cancelled, it would return at once and spin the loop.
                if !tickerRunning, !stopping {
                    tickerRunning = true
                    group.addTask {
                        try? await Task.sleep(for: .seconds(Self.tickInterval))
                        return .tick
                    }
                }
                guard let event = await group.next() else { break }
                switch event {
                case .tick:
                    tickerRunning = false
                case .rechecked(let key):
                    inFlight[key] = nil
                case .done(let key, let attempt):
                    inFlight[key] = nil
                    switch attempt {
                    case .committed(let isError):
                        summary.judged += 1
                        if isError { summary.errors += 1 }
                    case .deferred: summary.deferred += 1
                    case .failedToStore(let verdict):
                        workers.heldBack[key] = now() + Self.heldBackFor
                        if let verdict { workers.unwritten[key] = verdict }
                    case .cancelled: break
                    }
                }
            }
            group.cancelAll()
            summary.stillQueued = (try? store.judgeQueueSummary().depth) ?? summary.stillQueued
            runtime.setJudgeQueueDepth(summary.stillQueued)
            return summary
        }
    }

    private func heldBackKeys(_ workers: Workers) -> Set<JudgementKey> {
        let at = now()
        workers.heldBack = workers.heldBack.filter { $0.value > at }
        return Set(workers.heldBack.keys).union(workers.unwritten.keys)
    }

    private func writeUnwrittenVerdicts(_ workers: Workers) {
        for (key, verdict) in workers.unwritten {
            guard (try? store.commitJudgement(verdict, recheckSample: workers.roster.recheckSample)) != nil else { return }
            workers.unwritten[key] = nil
            workers.heldBack[key] = nil
        }
    }

    /// Once a second at most: drops stale judgements, records each judge's state for
    /// `evald status`, updates the queue gauge. Returns the judges that may run now.
    private func housekeeping(_ workers: Workers) -> [JudgeRoster.Member] {
        let at = now()
        let roster = workers.roster
        let states = roster.members.map { state(of: $0, at: at) }
        do {
            try recordChanges(states, workers)
            if at.timeIntervalSince(workers.lastHousekeeping) >= 1 {
                workers.lastHousekeeping = at
                workers.ticked = true
                writeUnwrittenVerdicts(workers)
                let dropped = try store.dropStaleJudgements(queuedBefore: at - roster.maxQueueAge)
                if dropped > 0 {
                    logger.warning(
                        "judge.queue_dropped_stale", metadata: ["judge.dropped": "\(dropped)", "judge.max_queue_age_s": "\(Int(roster.maxQueueAge))"])
                }
                // Only with judges loaded: an empty judge.dir (a typo, a mount not ready) must not empty the queue.
                let unknown = roster.members.isEmpty ? 0 : try store.dropJudgements(notIn: roster.members.map(\.rubric.name))
                if unknown > 0 {
                    logger.warning("judge.queue_dropped_unknown", metadata: ["judge.dropped": "\(unknown)", "reason": "their judge is no longer in judge.dir"])
                }
                runtime.setJudgeQueueDepth(try store.judgeQueueSummary().depth)
            }
        } catch {
            logger.error("judge.housekeeping_failed", metadata: ["error": "\(error)"])
        }
        return zip(roster.members, states).filter { $0.1.state.isRunnable }.map(\.0)
    }

    /// Logs and stores a judge's state when it changes (degraded, paused, resumed), for status
    /// and alerting. The endpoint's numbers (latency, last failure) change with every call: they
    /// are stored at most once a second, and logged only with a change of state.
    private func recordChanges(_ states: [JudgeHealth], _ workers: Workers) throws {
        var changed = workers.lastStates.count != states.count
        var stateChanged = changed
        for new in states {
            let old = workers.lastStates[new.judgeName]
            guard old != new else { continue }
            changed = true
            let logIt: Bool
            switch new.state {
            case .degraded: logIt = old?.state.name != new.state.name || old?.identity != new.identity
            default: logIt = old?.state != new.state || old?.identity != new.identity
            }
            guard logIt else { continue }
            stateChanged = true
            var metadata: Logger.Metadata = ["judge": "\(new.identity)", "judge.state": "\(new.state.name)", "reason": "\(new.state.reason ?? "")"]
            if let health = new.endpointHealth {
                if let failure = health.lastFailure, !new.state.isHealthy { metadata["judge.last_failure"] = "\(failure)" }
                if health.isDegraded {
                    metadata["judge.timeouts"] = "\(health.timeouts)/\(health.attempts)"
                    metadata["judge.timeout_s"] = "\(health.timeoutSeconds)"
                    metadata["judge.concurrency"] = "\(health.concurrency)"
                }
            }
            logger.log(level: new.state.isHealthy ? .info : .warning, "judge.state", metadata: metadata)
        }
        guard changed else { return }
        let at = now()
        guard stateChanged || at.timeIntervalSince(workers.lastStateWrite) >= 1 else { return }
        workers.lastStateWrite = at
        workers.lastStates = Dictionary(states.map { ($0.judgeName, $0) }, uniquingKeysWith: { a, _ in a })
        try store.recordJudgeStates(
            states.map {
                JudgeStateRecord(
                    judgeName: $0.judgeName, identity: $0.identity, endpoint: $0.endpoint, state: $0.state.name,
                    reason: $0.state.reason, updatedAt: $0.updatedAt, endpointHealthJSON: $0.endpointHealth?.json.serialized(pretty: false))
            })
        runtime.setJudgeStates(states)
    }

    private func state(of member: JudgeRoster.Member, at: Date) -> JudgeHealth {
        var health = JudgeHealth(
            judgeName: member.rubric.name, identity: member.rubric.identity, endpoint: member.endpointName,
            state: .running, updatedAt: at)
        guard let client = member.client, let endpoint = member.endpointName else {
            health.state = .skipped(reason: member.unavailable ?? "the judge cannot run under this configuration")
            return health
        }
        let endpointHealth = client.health
        health.endpointHealth = endpointHealth
        switch client.circuit {
        case .open(let until):
            health.state = .paused(.circuitOpen(endpoint: endpoint, until: until, lastFailure: endpointHealth.lastFailure))
            return health
        case .halfOpen:
            // Runnable (the trial call must go out), but not yet known to be healthy: JudgeFailing
            // stays. The budget below still applies.
            health.state = .trial(endpoint: endpoint)
        case .closed:
            if let reason = endpointHealth.degradedReason { health.state = .degraded(reason: reason) }
        }
        if let budget = member.dailyTokenBudget, let used = try? store.tokensUsed(endpoint: endpoint, on: at), used >= Int64(budget) {
            health.state = .paused(.budgetSpent(endpoint: endpoint, dailyTokenBudget: budget))
        }
        return health
    }

    private func blockedReason(_ workers: Workers) -> String? {
        let reasons = workers.lastStates.values.sorted { $0.judgeName < $1.judgeName }
            .compactMap { $0.state.isRunnable ? nil : "\($0.judgeName): \($0.state.reason ?? $0.state.name)" }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }

    /// Judges one trace. A judge error caused by the trace or the reply is stored as the
    /// verdict; an outage (retries exhausted, circuit open) leaves it queued for later.
    private func judge(_ pending: PendingJudgement, _ member: JudgeRoster.Member, redact: Bool, recheckSample: Int) async -> Attempt {
        guard let client = member.client, let endpoint = member.endpointName else { return .deferred }
        let rubric = member.rubric
        let metrics = runtime.metrics
        var verdict = JudgeVerdictRecord(
            evaluationID: pending.evaluationID, judgeName: rubric.name, identity: rubric.identity,
            endpoint: endpoint, outcome: .failed(kind: "pending", message: "", excerpt: nil), judgedAt: now())
        let prompt: String
        do {
            prompt = try JudgePromptBuilder.prompt(recordJSON: pending.recordJSON, rubric: rubric, redactingWith: redact ? detector : nil)
        } catch {
            verdict.outcome = .failed(kind: "render_error", message: error.message, excerpt: nil)
            return commit(verdict)
        }
        do {
            let completion = try await client.complete(JudgeRequest(prompt: prompt, temperature: rubric.temperature, maxOutputTokens: rubric.maxOutputTokens))
            metrics.judgeRequests.increment(by: Int64(completion.attempts))
            metrics.judgeLatency.record(.milliseconds(Int64(completion.latencyMs.rounded())))
            metrics.judgeTokens.increment(by: Int64(completion.inputTokens + completion.outputTokens))
            verdict.judgeModel = completion.responseModel
            verdict.judgeVersion = ProviderVersionWatch.version(responseModel: completion.responseModel, systemFingerprint: completion.systemFingerprint)
            verdict.inputTokens = completion.inputTokens
            verdict.outputTokens = completion.outputTokens
            verdict.latencyMs = completion.latencyMs
            verdict.attempts = completion.attempts
            verdict.judgedAt = now()
            switch JudgeReplyParser.parse(
                completion.text, scale: rubric.scale, passAt: rubric.passAt, finishReason: completion.finishReason,
                maxOutputTokens: rubric.maxOutputTokens)
            {
            case .success(let score):
                verdict.outcome = .scored(score: score.score, passed: score.passed, reason: score.reason)
            case .failure(let error):
                metrics.countJudgeError(judge: rubric.name, kind: error.kind.rawValue)
                verdict.outcome = .failed(kind: error.kind.rawValue, message: error.message, excerpt: error.replyExcerpt)
                logger.warning(
                    "judge.reply_unusable", metadata: ["judge": "\(rubric.identity)", "evaluation": "\(pending.evaluationID)", "error": "\(error.message)"])
            }
            return commit(verdict, recheckSample: recheckSample)
        } catch {
            metrics.judgeRequests.increment(by: Int64(error.attempts))
            if error.kind == .cancelled { return .cancelled }
            if error.attempts > 0 { metrics.countJudgeError(judge: rubric.name, kind: error.causeKind) }
            if error.isTransient {
                var until = now() + min(600, 15 * pow(2, Double(min(pending.attempts, 10))))
                if case .open(let reopen) = client.circuit { until = max(until, reopen) }
                do {
                    try store.deferJudgement(pending.key, until: until, error: error.cause ?? error.kind.rawValue)
                } catch {
                    logger.error("judge.defer_failed", metadata: ["error": "\(error)"])
                    return .failedToStore(nil)
                }
                logger.debug(
                    "judge.deferred",
                    metadata: [
                        "judge": "\(rubric.identity)", "evaluation": "\(pending.evaluationID)", "error": "\(error)",
                        "judge.last_failure": "\(error.cause ?? "-")",
                    ])
                return .deferred
            }
            verdict.attempts = error.attempts
            verdict.judgedAt = now()
            verdict.outcome = .failed(kind: error.kind.rawValue, message: error.message, excerpt: nil)
            logger.warning("judge.call_rejected", metadata: ["judge": "\(rubric.identity)", "evaluation": "\(pending.evaluationID)", "error": "\(error)"])
            return commit(verdict)
        }
    }

    private func commit(_ verdict: JudgeVerdictRecord, recheckSample: Int = 0) -> Attempt {
        do {
            let stored = try store.storeJudgement(verdict, recheckSample: recheckSample)
            if case .failed = verdict.outcome { return .committed(isError: true) }
            if case .scored(let score, let passed, _) = verdict.outcome, let model = stored.model {
                runtime.metrics.recordVerdict(judge: verdict.judgeName, route: stored.route, model: model, score: score, passed: passed)
            }
            return .committed(isError: false)
        } catch {
            logger.error("judge.commit_failed", metadata: ["evaluation": "\(verdict.evaluationID)", "error": "\(error)"])
            return .failedToStore(verdict)
        }
    }
}

extension JudgeService {
    /// Judges a stored trace again with the judge's new version after a switch. The rubric must
    /// be the one the switch was seen with: a rubric edited since is another judge. An outage
    /// puts it back for later; any other failure is stored and leaves the pair out.
    func recheck(_ pending: PendingRecheck, _ member: JudgeRoster.Member, redact: Bool) async {
        guard let client = member.client, let endpoint = member.endpointName else { return }
        let rubric = member.rubric
        func store(score: Double? = nil, passed: Bool? = nil, version: String? = nil, error: String?, tokens: Int = 0) {
            do {
                try self.store.storeRecheck(
                    pending, score: score, passed: passed, version: version, errorKind: error, endpoint: endpoint, tokens: tokens, at: now())
            } catch {
                logger.error("judge.recheck_commit_failed", metadata: ["evaluation": "\(pending.evaluationID)", "error": "\(error)"])
            }
        }
        guard rubric.identity == pending.identity else { return store(error: "rubric_changed") }
        let prompt: String
        do {
            prompt = try JudgePromptBuilder.prompt(recordJSON: pending.recordJSON, rubric: rubric, redactingWith: redact ? detector : nil)
        } catch {
            return store(error: "render_error")
        }
        do {
            let completion = try await client.complete(JudgeRequest(prompt: prompt, temperature: rubric.temperature, maxOutputTokens: rubric.maxOutputTokens))
            runtime.metrics.judgeRequests.increment(by: Int64(completion.attempts))
            let version = ProviderVersionWatch.version(responseModel: completion.responseModel, systemFingerprint: completion.systemFingerprint)
            let tokens = completion.inputTokens + completion.outputTokens
            switch JudgeReplyParser.parse(
                completion.text, scale: rubric.scale, passAt: rubric.passAt, finishReason: completion.finishReason, maxOutputTokens: rubric.maxOutputTokens)
            {
            case .success(let score): store(score: score.score, passed: score.passed, version: version, error: nil, tokens: tokens)
            case .failure(let error): store(version: version, error: error.kind.rawValue, tokens: tokens)
            }
        } catch {
            runtime.metrics.judgeRequests.increment(by: Int64(error.attempts))
            if error.kind == .cancelled { return }
            if error.isTransient {
                do { try self.store.deferRecheck(pending, until: now() + min(600, 15 * pow(2, Double(min(pending.attempts, 10))))) } catch {
                    logger.error("judge.recheck_defer_failed", metadata: ["error": "\(error)"])
                }
                return
            }
            store(error: error.kind.rawValue)
        }
    }
}
