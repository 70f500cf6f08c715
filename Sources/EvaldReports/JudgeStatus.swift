import EvaldCore
import EvaldStore
import Foundation

/// The judge section of `evald status`: the queue, verdicts and errors, what is left of the
/// token budgets, and for each judge whether it runs and, when not, why.
public struct JudgeStatus: Sendable {
    public struct Judge: Sendable {
        public var name: String
        public var identity: String
        public var endpoint: String?
        /// `running`, `degraded` (most calls time out), `idle` (nothing matches applies_to),
        /// `paused`, `skipped`, `ready` (daemon not running).
        public var state: String
        public var reason: String?
        public var queued: Int
        /// The endpoint's recent calls as the daemon (or the last run) last saw them.
        public var endpointHealth: EndpointHealth?
        /// Whether the text names the last failure: the judge is not running well, or it failed in the last 15 minutes.
        public var showsLastFailure = false
    }

    public struct Budget: Sendable {
        public var endpoint: String
        public var dailyTokens: Int
        public var usedToday: Int64
        public var left: Int64 { max(0, Int64(dailyTokens) - usedToday) }
    }

    public var judges: [Judge]
    public var queueDepth: Int
    public var judged: Int64
    public var errors: Int64
    public var droppedStale: Int64
    public var lastHour: (judged: Int, errors: Int)
    public var budgets: [Budget]
    public var problems: [String]
    public var directory: String
    public var endpointsConfigured: Bool

    /// Why no judge runs, in words an operator can act on; nil when some can.
    public var note: String? {
        if !endpointsConfigured { return "judges skipped: no judge endpoint configured; " + JudgeCatalog.enableHint }
        if judges.isEmpty {
            return problems.isEmpty
                ? "no judges: \(directory) holds no rubric files (*.md); copy the shipped ones from reference-judges/"
                : "no usable judges: the rubric files in \(directory) have problems (evald check-config)"
        }
        if !enabled { return "judges skipped: none of them has a configured endpoint" }
        return nil
    }

    public var enabled: Bool { judges.contains { $0.state != "skipped" } }
    public var budgetLeftTokens: Int64? { budgets.isEmpty ? nil : budgets.reduce(0) { $0 + $1.left } }

    static func gather(config: EvaldConfig, store: StateStore?, daemonRunning: Bool, counters: [String: Int64], now: Date) throws -> JudgeStatus {
        let (catalog, problems) = JudgeCatalog.load(
            directory: config.judge.dir, endpoints: config.endpoints, defaultEndpoint: config.judge.defaultEndpoint, send: config.judge.send)
        let queue = try store?.judgeQueueSummary()
        let persisted = Dictionary((try store?.judgeStates() ?? []).map { ($0.judgeName, $0) }, uniquingKeysWith: { a, _ in a })
        let routes = try store?.routesSeen(since: now - 86400) ?? []
        var judges: [Judge] = []
        var budgetEndpoints: [String] = []
        for rubric in catalog.rubrics {
            let endpoint = rubric.endpoint ?? config.judge.defaultEndpoint
            var judge = Judge(
                name: rubric.name, identity: rubric.identity, endpoint: endpoint, state: daemonRunning ? "running" : "ready",
                reason: nil, queued: queue?.waitingByJudge[rubric.name] ?? 0)
            judge.endpointHealth = persisted[rubric.name]?.endpointHealthJSON.flatMap { try? JSONParser.parse($0) }.flatMap(EndpointHealth.init(json:))
            if let endpoint, let config = config.endpoints[endpoint] {
                if config.dailyTokenBudget != nil, !budgetEndpoints.contains(endpoint) { budgetEndpoints.append(endpoint) }
                let used = config.dailyTokenBudget == nil ? 0 : try store?.tokensUsed(endpoint: endpoint, on: now) ?? 0
                if let budget = config.dailyTokenBudget, used >= Int64(budget) {
                    judge.state = "paused"
                    judge.reason = "budget spent: endpoint \(endpoint) spent its daily_token_budget of \(budget) tokens; judging resumes at 00:00 UTC"
                } else if daemonRunning, let state = persisted[rubric.name], state.state != "running" {
                    judge.state = state.state
                    judge.reason = state.reason
                } else if !routes.isEmpty, !routes.contains(where: rubric.applies(toRoute:)) {
                    judge.state = "idle"
                    judge.reason = "no sampled trace in the last 24 h matches applies_to \(rubric.appliesToPatterns)"
                }
            } else {
                judge.state = "skipped"
                judge.reason =
                    endpoint == nil || config.endpoints.isEmpty
                    ? "no judge endpoint configured; " + JudgeCatalog.enableHint
                    : "endpoint \(endpoint!) is not in endpoints"
            }
            if let health = judge.endpointHealth, health.lastFailure != nil {
                let recent = health.lastFailureAt.map { now.timeIntervalSince($0) < 900 } ?? false
                judge.showsLastFailure = recent || !["running", "ready", "idle"].contains(judge.state)
            }
            judges.append(judge)
        }
        var budgets: [Budget] = []
        for name in budgetEndpoints {
            guard let limit = config.endpoints[name]?.dailyTokenBudget else { continue }
            budgets.append(Budget(endpoint: name, dailyTokens: limit, usedToday: try store?.tokensUsed(endpoint: name, on: now) ?? 0))
        }
        return JudgeStatus(
            judges: judges, queueDepth: queue?.depth ?? 0, judged: counters["judged"] ?? 0, errors: counters["judge_errors"] ?? 0,
            droppedStale: counters["judge_dropped_stale"] ?? 0,
            lastHour: try store?.judgeOutcomes(since: now - 3600) ?? (0, 0), budgets: budgets,
            problems: problems.map(\.description), directory: config.judge.dir, endpointsConfigured: !config.endpoints.isEmpty)
    }

    var json: JSONValue {
        .object([
            ("enabled", .bool(enabled)),
            ("queue_depth", .int(Int64(queueDepth))),
            ("judged", .int(judged)),
            ("errors", .int(errors)),
            ("error_rate_last_hour", lastHour.judged > 0 ? .double(Double(lastHour.errors) / Double(lastHour.judged)) : .null),
            ("dropped_stale", .int(droppedStale)),
            ("budget_left_tokens", budgetLeftTokens.map(JSONValue.int) ?? .null),
            (
                "budgets",
                .array(
                    budgets.map { b in
                        .object([
                            ("endpoint", .string(b.endpoint)), ("daily_tokens", .int(Int64(b.dailyTokens))),
                            ("used_today", .int(b.usedToday)), ("left", .int(b.left)),
                        ])
                    })
            ),
            (
                "judges",
                .array(
                    judges.map { j in
                        .object([
                            ("name", .string(j.name)), ("identity", .string(j.identity)), ("endpoint", .optional(j.endpoint)),
                            ("state", .string(j.state)), ("reason", .optional(j.reason)), ("queued", .int(Int64(j.queued))),
                            ("last_failure", .optional(j.endpointHealth?.lastFailure)),
                            ("endpoint_health", j.endpointHealth?.json ?? .null),
                        ])
                    })
            ),
            ("problems", .array(problems.map(JSONValue.string))),
            ("note", .optional(note)),
        ])
    }

    var textLines: [String] {
        var head = "judge:     "
        if let note {
            head += note
        } else {
            head += "queue \(queueDepth), \(judged) judged, \(errors) judge errors"
            if lastHour.judged > 0 {
                head += String(format: " (last hour: %.1f%% errors of %d)", 100 * Double(lastHour.errors) / Double(lastHour.judged), lastHour.judged)
            }
            if droppedStale > 0 { head += ", \(droppedStale) dropped as stale" }
            if let left = budgetLeftTokens { head += ", budget left \(left) tokens today" }
        }
        var lines = [head]
        for j in judges {
            var line = "           \(j.identity)"
            if let endpoint = j.endpoint { line += " -> \(endpoint)" }
            line += ": \(j.state)"
            if j.queued > 0 { line += ", \(j.queued) queued" }
            if let reason = j.reason, j.state != "skipped" || enabled { line += " (\(reason))" }
            if j.showsLastFailure, let health = j.endpointHealth, let failure = health.lastFailure, j.reason?.contains(failure) != true {
                line += "; last failure\(health.lastFailureAt.map { " at \(RFC3339.format($0, fractional: false))" } ?? ""): \(failure)"
            }
            lines.append(line)
        }
        for problem in problems { lines.append("           problem: \(problem)") }
        return lines
    }
}
