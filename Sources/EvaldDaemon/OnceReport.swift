import EvaldCore
import Foundation

/// What `evald run --once` prints: its summary, as JSON or as text lines.
public struct OnceReport: Sendable {
    public var summary: Daemon.OnceSummary

    public init(summary: Daemon.OnceSummary) {
        self.summary = summary
    }

    private static func stage(_ stage: Daemon.OnceSummary.Stage) -> [(String, JSONValue)] {
        [("seconds", .double(rounded(stage.seconds))), ("cpu_seconds", .double(rounded(stage.cpuSeconds)))]
    }

    private static func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }

    public var json: JSONValue {
        let c = summary.spool.counts
        let judges = summary.judges
        let detection = summary.detection ?? DetectionEngine.RoundSummary()
        let notifications = summary.notifications ?? AlertDeliveryService.DrainSummary()
        return .object([
            (
                "spool",
                .object(
                    [
                        ("lines_read", .int(c.linesRead)), ("records", .int(c.records)), ("sampled", .int(c.sampled)),
                        ("quarantined", .int(c.malformed)), ("bytes_read", .int(summary.spool.bytesRead)),
                        ("check_seconds", .double(Self.rounded(summary.checkSeconds))),
                    ] + Self.stage(summary.spoolStage))
            ),
            (
                "judges",
                .object(
                    [
                        ("judged", .int(Int64(judges?.judged ?? 0))), ("errors", .int(Int64(judges?.errors ?? 0))),
                        ("still_queued", .int(Int64(judges?.stillQueued ?? 0))), ("timed_out", .bool(judges?.timedOut ?? false)),
                        ("interrupted", .bool(judges?.interrupted ?? false)),
                        ("skipped", .optional(judges == nil ? summary.judgeNote : nil)),
                    ] + Self.stage(summary.judgeStage))
            ),
            (
                "detection",
                .object(
                    [
                        ("evaluations", .int(Int64(detection.evaluations))), ("calls", .int(detection.calls)),
                        ("judge_scores", .int(Int64(detection.judgeScores))),
                        ("remaining", .int(Int64(detection.remaining))), ("remaining_calls", .int(detection.remainingCalls)),
                        ("fired", .int(Int64(detection.fired))),
                        ("designs", .int(Int64(detection.designs))), ("design_seconds", .double(Self.rounded(detection.designSeconds))),
                        ("lag_seconds", .double(Self.rounded(summary.detectionLag))),
                    ] + Self.stage(summary.detectionStage))
            ),
            (
                "notifications",
                .object(
                    [
                        ("sent", .int(Int64(notifications.sent))), ("pending", .int(Int64(notifications.stillPending))),
                        ("given_up", .int(Int64(notifications.gaveUp))), ("failed_attempts", .int(Int64(notifications.failedAttempts))),
                    ] + Self.stage(summary.notificationStage))
            ),
            (
                "alerts",
                .object([
                    ("firing", .int(Int64(summary.firingAlerts))),
                    ("fired", .int(Int64(detection.fired + summary.healthFired + summary.budgetFired))),
                    ("fired_by_detection", .int(Int64(detection.fired))), ("fired_by_health", .int(Int64(summary.healthFired))),
                    ("fired_by_budgets", .int(Int64(summary.budgetFired))),
                ])
            ),
            ("interrupted", .optional(summary.interruptedDuring)),
        ])
    }

    public func text(judgeTimeout: String, detectionTimeout: String) -> String {
        var lines: [String] = []
        let c = summary.spool.counts
        lines.append(
            "evald: read \(c.linesRead) lines (\(summary.spool.bytesRead) bytes) in \(String(format: "%.2f", summary.spoolStage.seconds)) s: \(c.records) records, \(c.sampled) sampled, \(c.malformed) quarantined"
        )
        if let judges = summary.judges {
            var line = "judges: \(judges.judged) judged (\(judges.errors) judge errors) in \(String(format: "%.2f", summary.judgeStage.seconds)) s; "
            if judges.interrupted {
                line += "interrupted (Ctrl-C) with \(judges.stillQueued) still queued; they stay queued for the next run"
            } else if judges.stillQueued == 0 {
                line += "queue empty"
            } else if judges.timedOut {
                line += "stopped waiting after --judge-timeout \(judgeTimeout) with \(judges.stillQueued) still queued; they stay queued for the next run"
            } else {
                line += "\(judges.stillQueued) still queued" + (judges.blockedReason.map { ": \($0)" } ?? "")
            }
            lines.append(line)
        } else if let note = summary.judgeNote {
            lines.append(note)
        }
        if let stage = summary.interruptedDuring, stage != "detection" {
            lines.append(
                "interrupted (Ctrl-C) during the \(stage) stage: what is above is committed; detection and notifications were not run, the next run (or the daemon) does them"
            )
            lines.append("alerts: \(summary.firingAlerts) firing (evald alerts)")
            return lines.joined(separator: "\n")
        }
        if let d = summary.detection, Int64(d.evaluations + d.judgeScores + d.remaining) + d.calls > 0 {
            var line =
                "detection: \(d.evaluations) evaluations, \(d.calls) calls and \(d.judgeScores) judge scores fed to the detectors in \(String(format: "%.2f", summary.detectionStage.seconds)) s; \(d.fired) alert\(d.fired == 1 ? "" : "s") fired by detection (evald drift, evald alerts)"
            if d.remaining > 0 || d.remainingCalls > 0 {
                line +=
                    "; stopped after --detection-timeout \(detectionTimeout) with \(d.remaining) evaluations and \(d.remainingCalls) calls still to feed (the next run or the daemon goes on)"
            }
            lines.append(line)
        }
        // The firing count is what `evald alerts` lists: every firing alert, including those of
        // earlier runs and the health alerts (JudgeFailing, ...), not only what this run fired.
        let fired = (summary.detection?.fired ?? 0) + summary.healthFired + summary.budgetFired
        let alerts =
            "alerts: \(summary.firingAlerts) firing (evald alerts)"
            + (fired > 0
                ? ", \(fired) fired by this run (\(summary.detection?.fired ?? 0) by detection, \(summary.healthFired) by the health rules, \(summary.budgetFired) by budgets)"
                : "")
        if let n = summary.notifications {
            lines.append(
                alerts + "; notifications: \(n.sent) sent" + (n.gaveUp > 0 ? ", \(n.gaveUp) given up" : "")
                    + (n.stillPending > 0 ? ", \(n.stillPending) still pending (they are sent by the next run)" : ""))
        } else if summary.firingAlerts > 0 || fired > 0 {
            lines.append(alerts + "; no receivers configured")
        }
        if summary.interruptedDuring == "detection" {
            lines.append("interrupted (Ctrl-C) after detection: notifications were not delivered; they wait in the outbox for the next run (or the daemon)")
        }
        return lines.joined(separator: "\n")
    }
}
