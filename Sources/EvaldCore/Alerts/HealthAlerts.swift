import Foundation

/// The alerts evald raises about itself: `JudgeFailing`, `JudgeBudgetExhausted`,
/// `SpoolStalled`, `StateStoreFailing`. Pure drafts (name, severity, labels, texts, numbers); the daemon decides
/// when they hold and adds the runbook link and the receivers.
public enum HealthAlerts {
    public struct Draft: Sendable, Equatable {
        public var name: String
        public var severity: AlertSeverity
        public var labels: [String: String]
        public var summary: String
        public var description: String
        public var numbers: [String: Double]
    }

    /// A judge whose circuit is open (or half-open), or whose verdicts in the window are
    /// mostly judge errors.
    public static func judgeFailing(
        judge: String, identity: String, endpoint: String?, judged: Int, errors: Int, windowMinutes: Int,
        threshold: Double, minVerdicts: Int, circuitReason: String?
    ) -> Draft {
        let rate = judged > 0 ? Double(errors) / Double(judged) : 0
        let circuitOpen = circuitReason != nil
        let why = circuitReason ?? String(format: "%.0f%% of its last %d verdicts are judge errors", 100 * rate, judged)
        return Draft(
            name: "JudgeFailing", severity: .warning, labels: ["metric": "judge:\(judge)", "endpoint": endpoint ?? ""],
            summary: "Judge \(judge) is failing: \(why)",
            description:
                "judge \(identity) on endpoint \(endpoint ?? "-"): \(errors) judge errors in \(judged) verdicts over the last \(windowMinutes) min (threshold \(Int(threshold * 100))% of at least \(minVerdicts)); circuit \(circuitOpen ? "open" : "closed"). Scores are delayed, none is lost: traces wait in the judge queue.",
            numbers: ["judged": Double(judged), "errors": Double(errors), "error_rate": rate, "threshold": threshold, "circuit_open": circuitOpen ? 1 : 0])
    }

    public static func budgetExhausted(endpoint: String, used: Int64, budget: Int) -> Draft {
        Draft(
            name: "JudgeBudgetExhausted", severity: .warning, labels: ["endpoint": endpoint],
            summary: "Judging is paused: endpoint \(endpoint) spent its daily token budget",
            description:
                "endpoint \(endpoint) used \(used) tokens today (daily_token_budget \(budget)); its judges resume at 00:00 UTC. Traces wait in the judge queue (up to judge.max_queue_age).",
            numbers: ["tokens_used": Double(used), "daily_token_budget": Double(budget)])
    }

    public static func spoolStalled(directory: String, pendingBytes: Int64, stalledFor: Double, failingFor: Double, threshold: Double) -> Draft {
        Draft(
            name: "SpoolStalled", severity: .critical, labels: ["spool_dir": directory],
            summary: "evald has read no spool line for \(Int(stalledFor)) s while \(pendingBytes) bytes wait",
            description:
                "spool \(directory): \(pendingBytes) bytes unread, no line read for \(Int(stalledFor)) s\(failingFor > 0 ? ", polls failing for \(Int(failingFor)) s" : "") (alerts.spool_stalled_after \(Int(threshold)) s); check the logs for spool.poll_failed and the state database's disk.",
            numbers: ["pending_bytes": Double(pendingBytes), "stalled_seconds": stalledFor, "failing_seconds": failingFor, "threshold_seconds": threshold])
    }

    /// The state database stays over `retention.max_db_bytes` after pruning every raw
    /// evaluation that may go (what is left: rollups, open alerts' examples, golden traces,
    /// evaluations detection has not read).
    public static func stateStoreFailing(path: String, fileBytes: Int64, limit: Int64) -> Draft {
        Draft(
            name: "StateStoreFailing", severity: .warning, labels: ["state_db": path],
            summary: "The state database is over retention.max_db_bytes: \(fileBytes) bytes, limit \(limit)",
            description:
                "state database \(path): \(fileBytes) bytes after pruning (retention.max_db_bytes \(limit)). What is left may not be pruned by size: rollups younger than rollup_days, the examples of open alerts, golden sets' traces, evaluations detection has not read yet. Raise max_db_bytes, shorten retention.rollup_days, or resolve old alerts; evald keeps running.",
            numbers: ["db_bytes": Double(fileBytes), "max_db_bytes": Double(limit)])
    }
}
