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

    /// What a judge's failure is: its calls do not get through (the traces wait), or its
    /// replies are unusable (those verdicts are final judge errors), or both.
    public enum JudgeFailureKind: String, Sendable, Equatable {
        /// Connection errors, timeouts, 5xx: the endpoint's circuit is open, or most calls time out.
        case transport
        /// Unusable replies and refused requests, stored as judge errors.
        case reply
        case both
    }

    /// A judge whose circuit is open (or half-open), whose endpoint times out on most calls
    /// (`degraded`), or whose verdicts in the window are mostly judge errors.
    /// - Parameters:
    ///   - errorKinds: the window's judge errors by kind (`no_json`, `truncated`, ...).
    ///   - circuitReason: the circuit's state in words when it is not closed.
    ///   - degradedReason: `EndpointHealth.degradedReason` when most calls time out.
    ///   - lastFailure: what the endpoint's last failed call met ("connection refused to 127.0.0.1:8080").
    public static func judgeFailing(
        judge: String, identity: String, endpoint: String?, judged: Int, errors: Int, errorKinds: [String: Int] = [:], windowMinutes: Int,
        threshold: Double, minVerdicts: Int, circuitReason: String?, degradedReason: String? = nil, lastFailure: String? = nil
    ) -> Draft {
        let rate = judged > 0 ? Double(errors) / Double(judged) : 0
        let circuitOpen = circuitReason != nil
        let transport = circuitOpen || degradedReason != nil
        let replies = judged >= minVerdicts && rate >= threshold
        let kind: JudgeFailureKind = transport && replies ? .both : (transport ? .transport : .reply)
        let kinds = errorKinds.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let endpointName = endpoint ?? "-"
        var headline: [String] = []
        if circuitOpen {
            headline.append("endpoint \(endpointName) is unreachable or failing" + (lastFailure.map { " (\($0))" } ?? ""))
        } else if degradedReason != nil {
            headline.append("most calls to endpoint \(endpointName) time out")
        }
        if replies {
            headline.append(String(format: "%.0f%% of its last %d verdicts are judge errors", 100 * rate, judged) + (kinds.isEmpty ? "" : " (\(kinds))"))
        }
        var description =
            "judge \(identity) on endpoint \(endpointName): \(errors) judge errors in \(judged) verdicts over the last \(windowMinutes) min (threshold \(Int(threshold * 100))% of at least \(minVerdicts))"
        if !kinds.isEmpty { description += ", by kind: \(kinds)" }
        description += circuitReason.map { "; \($0)." } ?? "; circuit closed."
        if let degradedReason { description += " Degraded: \(degradedReason)." }
        if let lastFailure, !circuitOpen || circuitReason?.contains(lastFailure) != true { description += " Last failure: \(lastFailure)." }
        if transport {
            description +=
                " Transport failures (connection errors, timeouts, 5xx) are not verdicts: scores are delayed and none is lost, the traces wait in the judge queue (up to judge.max_queue_age)."
        }
        if replies {
            description +=
                " Reply errors are final: each is stored as the trace's judge error (never a failing score) and that trace is not judged again; fix the rubric (max_output_tokens, the JSON it asks for) or the judge model, and new traces are judged."
        }
        return Draft(
            name: "JudgeFailing", severity: .warning, labels: ["metric": "judge:\(judge)", "endpoint": endpoint ?? ""],
            summary:
                "Judge \(judge) is failing (\(kind == .both ? "transport and reply errors" : kind == .transport ? "transport errors: traces wait in the queue" : "reply errors: those verdicts are final")): "
                + headline.joined(separator: "; "),
            description: description,
            numbers: [
                "judged": Double(judged), "errors": Double(errors), "error_rate": rate, "threshold": threshold, "circuit_open": circuitOpen ? 1 : 0,
                "degraded": degradedReason == nil ? 0 : 1,
            ])
    }

    public static func budgetExhausted(endpoint: String, used: Int64, budget: Int) -> Draft {
        Draft(
            name: "JudgeBudgetExhausted", severity: .warning, labels: ["endpoint": endpoint],
            summary: "Judging is paused: endpoint \(endpoint) spent its daily token budget",
            description:
                "endpoint \(endpoint) used \(used) tokens today (daily_token_budget \(budget)); its judges resume at 00:00 UTC. Traces wait in the judge queue (up to judge.max_queue_age).",
            numbers: ["tokens_used": Double(used), "daily_token_budget": Double(budget)])
    }

    /// - Parameter failure: why the polls fail, when they do (the spool directory is missing,
    ///   the state database refuses writes).
    public static func spoolStalled(
        directory: String, pendingBytes: Int64, stalledFor: Double, failingFor: Double, threshold: Double, failure: String? = nil
    ) -> Draft {
        Draft(
            name: "SpoolStalled", severity: .critical, labels: ["spool_dir": directory],
            summary: failure.map { "evald cannot read the spool for \(Int(failingFor)) s: \($0)" }
                ?? "evald has read no spool line for \(Int(stalledFor)) s while \(pendingBytes) bytes wait",
            description:
                "spool \(directory): \(pendingBytes) bytes unread, no line read for \(Int(stalledFor)) s\(failingFor > 0 ? ", polls failing for \(Int(failingFor)) s" : "")\(failure.map { " (\($0))" } ?? "") (alerts.spool_stalled_after \(Int(threshold)) s); check the logs for spool.poll_failed and spool.unreadable, the spool directory and the state database's disk.",
            numbers: ["pending_bytes": Double(pendingBytes), "stalled_seconds": stalledFor, "failing_seconds": failingFor, "threshold_seconds": threshold])
    }

    /// The state database refuses the spool loop's commits (a full disk, a write lock held by
    /// another process): nothing new is stored, and the spool waits. Same labels as the size
    /// variant: one alert per database.
    public static func stateStoreWritesFailing(path: String, reason: String, failingFor: Double, threshold: Double) -> Draft {
        Draft(
            name: "StateStoreFailing", severity: .critical, labels: ["state_db": path],
            summary: "The state database refuses writes for \(Int(failingFor)) s: \(reason)",
            description:
                "state database \(path): commits have failed for \(Int(failingFor)) s (alerts.state_store_failing_after \(Int(threshold)) s): \(reason). Nothing read since is lost: the spool waits, and evald reads it again from the last commit once a write works. Free disk space on the state_dir's file system (df), or stop the process holding the database's lock; this alert may have been sent from memory and be missing from evald alerts until then.",
            numbers: ["failing_seconds": failingFor, "threshold_seconds": threshold])
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
