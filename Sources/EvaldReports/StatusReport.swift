import EvaldCore
import EvaldSpool
import EvaldStore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What `evald status` shows, assembled from the database and the spool directory.
public struct StatusReport: Sendable {
    public struct DaemonState: Sendable {
        public var running: Bool
        public var pid: Int32?
        public var lastHeartbeat: Date?
        public var startedAt: Date?
        public var stoppedAt: Date?
        /// An `evald run --once` in progress (it keeps a heartbeat too, with its progress).
        public var once: OnceRun?
    }

    /// A one-shot run in progress, as its heartbeat tells.
    public struct OnceRun: Sendable {
        public var pid: Int32
        public var startedAt: Date
        public var progress: JSONValue?

        var stage: String { progress?["stage"]?.stringValue ?? "starting" }
        func count(_ key: String) -> Int64 { Int64(progress?[key]?.numberValue ?? 0) }

        var text: String {
            var line = "evald run --once is running (pid \(pid), started \(RFC3339.format(startedAt, fractional: false))): "
            switch stage {
            case "spool": line += "reading the spool, \(count("lines_read")) lines read, \(count("sampled")) sampled"
            case "judges":
                line +=
                    "judging, \(count("judged")) judged (\(count("judge_errors")) judge error\(count("judge_errors") == 1 ? "" : "s")), \(count("still_queued")) still queued"
            case "detection": line += "feeding the detectors after \(count("judged")) judged"
            default: line += stage
            }
            return line + "; no daemon is running"
        }

        var json: JSONValue {
            .object(
                [("pid", .int(Int64(pid))), ("started_at", .string(RFC3339.format(startedAt, fractional: false))), ("stage", .string(stage))]
                    + ["lines_read", "sampled", "judged", "judge_errors", "still_queued"].map { ($0, .int(count($0))) })
        }
    }

    public var databasePath: String
    public var databaseExists: Bool
    public var daemon: DaemonState
    public var spoolDir: String
    public var spoolFiles: Int
    public var counters: [String: Int64]
    public var bytesPending: Int64
    /// Spool files that cannot be opened: waiting, counted in `bytesPending`.
    public var unreadableFiles: [String] = []
    /// Why the spool directory cannot be listed; nil when it can.
    public var spoolDirectoryError: String?
    public var quarantined: Int
    public var samplingRate: Double
    public var shard: String
    public var judge: JudgeStatus
    public var firingAlerts: Int
    public var pendingNotifications: Int
    public var detection: DetectionStatus
    public var canary: CanaryStatus?
    /// Nil without `report:` and nothing ever queued.
    public var reports: ReportDeliveryStatus?
    public var storage = StorageStatus()
    /// The firing alerts the text names, most severe first, then newest (at most `shownAlerts`).
    public var firing: [StoredAlert] = []

    /// What the detectors are doing.
    public struct DetectionStatus: Sendable {
        public var series = 0
        /// Series whose baseline reached detection.baseline_min_samples: they may fire.
        public var armed = 0
        /// Series past half their threshold (their routes are boosted).
        public var suspect = 0
        public var regressionsOpen = 0
        public var versionWatches = 0
        public var driftWatching = 0
        public var drifted = 0
        /// Routes sampled above their configured rate (boost or low-traffic floor).
        public var raisedRates: [String: Double] = [:]
        /// How long the oldest evaluation detection has not fed yet has waited (0: caught up).
        public var lagSeconds = 0.0
        /// Rows of the usage journal (`usage_feed`) the `op:` detectors have not been fed yet,
        /// and the calls they hold.
        public var usageBacklogRows = 0
        public var usageBacklogCalls: Int64 = 0

        /// Fed everything ingest committed: evaluations and every call's usage.
        public var caughtUp: Bool { lagSeconds <= 0 && usageBacklogRows == 0 }
    }

    /// Scheduled report delivery (SPEC 7b `report:`): each receiver's newest period queued.
    public struct ReportDeliveryStatus: Sendable {
        public var receivers: [ReportDelivery] = []
        /// Reports waiting to be sent, every period and receiver.
        public var pending = 0
    }

    /// The database's size against `retention.max_db_bytes`, and what retention pruned.
    public struct StorageStatus: Sendable {
        public var fileBytes: Int64 = 0
        public var walBytes: Int64 = 0
        public var freeBytes: Int64 = 0
        public var maxBytes: Int64?
    }

    public struct CanaryStatus: Sendable {
        public var set: String
        public var every: Double
        public var last: CanaryRunRecord?
    }

    public func counter(_ name: String) -> Int64 { counters[name] ?? 0 }

    /// How many firing alerts the text names; `evald alerts` lists them all.
    public static let shownAlerts = 5

    /// What the spool holds: files and bytes not yet consumed.
    public struct SpoolSnapshot: Sendable, Equatable {
        public var files: Int
        public var bytesPending: Int64
        /// Spool files that cannot be opened (permissions, a broken link target).
        public var unreadableFiles: [String]
        /// Why the spool directory cannot be listed (it is missing, no permission).
        public var directoryError: String?

        public init(files: Int, bytesPending: Int64, unreadableFiles: [String] = [], directoryError: String? = nil) {
            self.files = files
            self.bytesPending = bytesPending
            self.unreadableFiles = unreadableFiles
            self.directoryError = directoryError
        }
    }

    /// The CLI's status: opens the database read-only and lists the spool directory.
    public static func gather(config: EvaldConfig, now: Date = Date()) throws -> StatusReport {
        try gather(config: config, store: try StateStore.openExisting(path: config.databasePath), spool: nil, now: now)
    }

    /// The status from an open database; `spool` from the ingest loop when the daemon asks (it
    /// knows its lag), else the directory is listed.
    /// - Parameter monitors: the detectors' monitors when the caller has read them already
    ///   (`MetricsReport.monitors`), else they are read here.
    public static func gather(
        config: EvaldConfig, store: StateStore?, spool: SpoolSnapshot?, now: Date = Date(), monitors: [String: SeriesMonitor]? = nil
    ) throws -> StatusReport {
        let heartbeat = try store?.heartbeat()
        let snapshot = try spool ?? listSpool(config: config, store: store)
        let (entries, pending) = (snapshot.files, snapshot.bytesPending)

        var daemon = DaemonState(
            running: false, pid: heartbeat?.pid, lastHeartbeat: heartbeat?.heartbeatAt,
            startedAt: heartbeat?.startedAt, stoppedAt: heartbeat?.stoppedAt)
        if let heartbeat, heartbeat.stoppedAt == nil {
            let fresh = now.timeIntervalSince(heartbeat.heartbeatAt) < max(10, 5 * DaemonHeartbeat.interval)
            let sameHost = heartbeat.hostname == ProcessInfo.processInfo.hostName
            let alive = kill(heartbeat.pid, 0) == 0 || errno == EPERM
            if heartbeat.mode == "once" {
                // A one-shot run updates its heartbeat between steps only (a detection catch-up
                // can take minutes): on this host its process tells, elsewhere its freshness.
                if sameHost ? alive : fresh {
                    daemon.once = OnceRun(
                        pid: heartbeat.pid, startedAt: heartbeat.startedAt,
                        progress: heartbeat.progressJSON.flatMap { try? JSONParser.parse($0) })
                }
            } else {
                daemon.running = fresh && (!sameHost || alive)
            }
        }

        let counters = try store?.counters() ?? [:]
        let judge = try JudgeStatus.gather(
            config: config, store: store, daemonRunning: daemon.running || daemon.once != nil, counters: counters, now: now)
        var detection = DetectionStatus()
        for monitor in (monitors ?? MetricsReport.monitors(store)).values {
            detection.series += 1
            if monitor.detector != nil { detection.armed += 1 }
            if monitor.suspect { detection.suspect += 1 }
            if monitor.open != nil { detection.regressionsOpen += 1 }
        }
        for watch in try DriftReport.gather(store: store).watches {
            detection.versionWatches += 1
            detection.driftWatching += watch.switches.count { $0.state == .watching && !$0.superseded }
            detection.drifted += watch.switches.count { $0.state == .drift && !$0.superseded }
        }
        detection.raisedRates = try store?.raisedSamplingRates() ?? [:]
        detection.lagSeconds = try store?.detectionLag(now: now) ?? 0
        if let backlog = try store?.usageFeedBacklog() {
            detection.usageBacklogRows = backlog.rows
            detection.usageBacklogCalls = backlog.calls
        }
        let canary = try config.golden.canary.map { CanaryStatus(set: $0.set, every: $0.every, last: try store?.canaryRuns(set: $0.set, limit: 1).first) }
        var storage = StorageStatus(maxBytes: config.retention.maxDBBytes)
        if let store {
            let size = try store.storageSize()
            storage.fileBytes = size.fileBytes
            storage.walBytes = size.walBytes
            storage.freeBytes = size.freeBytes
        }
        var report = StatusReport(
            databasePath: config.databasePath, databaseExists: store != nil, daemon: daemon,
            spoolDir: config.spool.dir, spoolFiles: entries, counters: counters,
            bytesPending: pending, quarantined: try store?.quarantine(limit: 0).total ?? 0,
            samplingRate: config.sampling.rate, shard: config.sampling.shard.description, judge: judge,
            firingAlerts: try store?.firingAlertCount() ?? 0, pendingNotifications: try store?.outboxPendingCount(.notification) ?? 0,
            detection: detection, canary: canary,
            firing: Self.mostSevereFirst(try store?.alerts(includeResolved: false) ?? []).prefix(shownAlerts).map { $0 })
        report.storage = storage
        let deliveries = try store?.newestReportDeliveries() ?? []
        if config.usage.report != nil || !deliveries.isEmpty {
            report.reports = ReportDeliveryStatus(receivers: deliveries, pending: try store?.outboxPendingCount(.report) ?? 0)
        }
        report.unreadableFiles = snapshot.unreadableFiles
        report.spoolDirectoryError = snapshot.directoryError
        return report
    }

    static func mostSevereFirst(_ alerts: [StoredAlert]) -> [StoredAlert] {
        let rank = ["critical": 0, "warning": 1, "info": 2]
        return alerts.sorted { (rank[$0.severity] ?? 3, -$0.id) < (rank[$1.severity] ?? 3, -$1.id) }
    }

    public var json: JSONValue {
        // Apart: one expression this large is too much for the type checker.
        let reportsJSON: JSONValue = reports?.json ?? .null
        return .object([
            (
                "daemon",
                .object([
                    ("running", .bool(daemon.running)),
                    ("pid", daemon.pid.map { .int(Int64($0)) } ?? .null),
                    ("last_heartbeat", .optional(daemon.lastHeartbeat.map { RFC3339.format($0, fractional: false) })),
                    ("started_at", .optional(daemon.startedAt.map { RFC3339.format($0, fractional: false) })),
                    ("stopped_at", .optional(daemon.stoppedAt.map { RFC3339.format($0, fractional: false) })),
                    ("once", daemon.once?.json ?? .null),
                ])
            ),
            (
                "spool",
                .object([
                    ("dir", .string(spoolDir)),
                    ("files", .int(Int64(spoolFiles))),
                    ("lines_read", .int(counter("lines_read"))),
                    ("records", .int(counter("records"))),
                    ("malformed", .int(counter("malformed"))),
                    ("quarantined", .int(Int64(quarantined))),
                    ("bytes_pending", .int(bytesPending)),
                    ("skipped_spans", .int(counter("skipped_spans"))),
                    ("feedback", .int(counter("feedback"))),
                    ("unreadable_files", .array(unreadableFiles.map { .string($0) })),
                    ("directory_error", .optional(spoolDirectoryError)),
                ])
            ),
            (
                "sampling",
                .object([
                    ("rate", .double(samplingRate)),
                    ("shard", .string(shard)),
                    ("sampled", .int(counter("sampled"))),
                    ("raised", .object(detection.raisedRates.sorted { $0.key < $1.key }.map { ($0.key, .double($0.value)) })),
                ])
            ),
            ("judge", judge.json),
            ("detection", detection.json),
            (
                "canary",
                canary.map { canary in
                    .object([
                        ("set", .string(canary.set)),
                        ("every_seconds", .double(canary.every)),
                        ("last_run_at", .optional(canary.last.map { RFC3339.format($0.startedAt, fractional: false) })),
                        ("cases", canary.last.map { .int(Int64($0.cases)) } ?? .null),
                        ("answered", canary.last.map { .int(Int64($0.answered)) } ?? .null),
                        ("regressed", .array((canary.last?.regressed ?? []).map(JSONValue.string))),
                        ("error", .optional(canary.last?.error)),
                    ])
                } ?? .null
            ),
            ("alerts", .object([("firing", .int(Int64(firingAlerts))), ("notifications_pending", .int(Int64(pendingNotifications)))])),
            ("reports", reportsJSON),
            (
                "storage",
                .object([
                    ("db_bytes", .int(storage.fileBytes)),
                    ("wal_bytes", .int(storage.walBytes)),
                    ("free_bytes", .int(storage.freeBytes)),
                    ("max_db_bytes", storage.maxBytes.map { .int($0) } ?? .null),
                    ("pruned_by_age", .int(counter("pruned_by_age"))),
                    ("pruned_by_size", .int(counter("pruned_by_size"))),
                    ("judge_dropped_by_size", .int(counter("judge_dropped_by_size"))),
                ])
            ),
            ("database", .string(databasePath)),
        ])
    }

    public var text: String {
        func time(_ date: Date?) -> String { date.map { RFC3339.format($0, fractional: false) } ?? "never" }
        var lines: [String] = []
        if !databaseExists {
            lines.append("evald has not run with this state_dir yet (no \(databasePath)).")
        }
        if let once = daemon.once {
            lines.append("daemon:    \(once.text)")
        } else {
            let state = daemon.running ? "running (pid \(daemon.pid.map(String.init) ?? "?"))" : "not running"
            lines.append("daemon:    \(state), last heartbeat \(time(daemon.lastHeartbeat))")
        }
        lines.append("spool:     \(spoolDir): \(spoolFiles) files, \(bytesPending) bytes pending")
        if let spoolDirectoryError { lines.append("           cannot list the spool directory: \(spoolDirectoryError)") }
        if !unreadableFiles.isEmpty {
            lines.append(
                "           \(unreadableFiles.count) unreadable (retried every poll): \(unreadableFiles.prefix(3).joined(separator: ", "))\(unreadableFiles.count > 3 ? ", ..." : "")"
            )
        }
        lines.append(
            "lines:     \(counter("lines_read")) read, \(counter("records")) records, \(counter("malformed")) malformed (\(quarantined) in quarantine: evald spool quarantine), \(counter("blank_lines")) blank"
        )
        let rate = counter("records") > 0 ? String(format: " (%.2f%% of records)", 100 * Double(counter("sampled")) / Double(counter("records"))) : ""
        lines.append("sampling:  rate \(samplingRate), shard \(shard): \(counter("sampled")) sampled\(rate)")
        lines += judge.textLines
        let raised = detection.raisedRates.sorted { $0.key < $1.key }.map { "\($0.key) at \($0.value)" }
        lines.append(
            "detection: \(detection.series) series, \(detection.armed) armed (baseline of detection.baseline_min_samples reached), \(detection.suspect) suspect, \(detection.regressionsOpen) regressions open; \(detection.versionWatches) provider version watches, \(detection.driftWatching) watching a switch, \(detection.drifted) drifted (evald drift); \(Self.lag(detection))"
                + (raised.isEmpty ? "" : "; sampling raised: " + raised.joined(separator: ", ")))
        if let canary {
            if let last = canary.last {
                let outcome = last.error ?? (last.regressed.isEmpty ? "within baseline" : "REGRESSED: " + last.regressed.joined(separator: ", "))
                lines.append("canary:    set \(canary.set), last run \(time(last.startedAt)): \(last.answered)/\(last.cases) answered, \(outcome)")
            } else {
                lines.append("canary:    set \(canary.set), every \(Int(canary.every)) s: no run yet")
            }
        }
        lines.append(
            "alerts:    \(firingAlerts) firing" + (firingAlerts > 0 ? " (evald alerts)" : "")
                + (pendingNotifications > 0 ? ", \(pendingNotifications) notifications waiting to be sent" : ""))
        for alert in firing {
            lines.append("           \(alert.publicID) \(alert.name) (\(alert.severity)): \(alert.annotations["summary"] ?? "")")
            if let change = alert.annotations["version_switch"] {
                lines.append("               likely cause: the provider version switch \(change)")
            } else if let change = alert.annotations["prompt_deploy"] {
                lines.append("               likely cause: the prompt version change \(change)")
            } else if let change = alert.annotations["model_change"] {
                lines.append("               likely cause: the model change \(change)")
            }
        }
        if firingAlerts > firing.count {
            lines.append("           ... and \(firingAlerts - firing.count) more (evald alerts)")
        }
        if let first = firing.first {
            lines.append("           next: evald explain \(first.publicID) (its numbers and the traces behind it)")
        }
        if let reports { lines += reports.textLines }
        let limit = storage.maxBytes.map { ", limit \(Self.bytes($0))" } ?? ", no size limit"
        let dropped = counter("judge_dropped_by_size")
        let droppedText = dropped > 0 ? " (\(dropped) of them still waiting for a judge: it was behind ingest)" : ""
        lines.append(
            "storage:   \(Self.bytes(storage.fileBytes))\(limit); evaluations pruned: \(counter("pruned_by_age")) by age, \(counter("pruned_by_size")) by size\(droppedText)"
        )
        lines.append("database:  \(databasePath)")
        return lines.joined(separator: "\n")
    }

    static func bytes(_ count: Int64) -> String {
        count >= 1 << 30 ? String(format: "%.1f GiB", Double(count) / Double(1 << 30)) : String(format: "%.1f MiB", Double(count) / Double(1 << 20))
    }

    static func lag(_ detection: DetectionStatus) -> String {
        if detection.caughtUp { return "caught up with ingest" }
        var behind: [String] = []
        if detection.lagSeconds > 0 { behind.append(String(format: "%.1f s behind ingest", detection.lagSeconds)) }
        if detection.usageBacklogRows > 0 {
            behind.append(
                "\(detection.usageBacklogCalls) calls (\(detection.usageBacklogRows) usage rows) not yet fed to the op: detectors")
        }
        return behind.joined(separator: ", ")
    }

    /// Bytes not yet consumed: the unread part of every followed file, and all of every file not followed yet.
    static func listSpool(config: EvaldConfig, store: StateStore?) throws -> SpoolSnapshot {
        let tracked = try store?.trackedSpoolFiles() ?? []
        let entries: [SpoolDirectoryEntry]
        var directoryError: String?
        do { entries = try SpoolDirectory.list(config.spool.dir) } catch {
            entries = []
            directoryError = error.message
        }
        var pending: Int64 = 0
        var followed = Set<String>()
        for file in tracked {
            followed.insert("\(file.device):\(file.inode)")
            if let entry = entries.first(where: { $0.device == file.device && $0.inode == file.inode }) {
                pending += max(0, entry.size - file.offset)
            }
        }
        var unreadable: [String] = []
        for entry in entries where !followed.contains("\(entry.device):\(entry.inode)") {
            pending += entry.size
            let fd = open(entry.path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { close(fd) } else { unreadable.append(entry.path) }
        }
        return SpoolSnapshot(files: entries.count, bytesPending: pending, unreadableFiles: unreadable, directoryError: directoryError)
    }
}

extension StatusReport.DetectionStatus {
    var json: JSONValue {
        .object([
            ("series", .int(Int64(series))),
            ("armed", .int(Int64(armed))),
            ("suspect", .int(Int64(suspect))),
            ("regressions_open", .int(Int64(regressionsOpen))),
            ("version_watches", .int(Int64(versionWatches))),
            ("drift_watching", .int(Int64(driftWatching))),
            ("drifted", .int(Int64(drifted))),
            ("lag_seconds", .double(lagSeconds)),
            ("usage_backlog_rows", .int(Int64(usageBacklogRows))),
            ("usage_backlog_calls", .int(usageBacklogCalls)),
            ("caught_up", .bool(caughtUp)),
        ])
    }
}

extension StatusReport.ReportDeliveryStatus {
    var json: JSONValue {
        .object([
            ("pending", .int(Int64(pending))),
            (
                "receivers",
                .array(
                    receivers.map { delivery in
                        .object([
                            ("receiver", .string(delivery.receiver)),
                            ("period_start", .string(RFC3339.format(delivery.periodStart, fractional: false))),
                            ("period_end", .string(RFC3339.format(delivery.periodEnd, fractional: false))),
                            ("state", .string(delivery.state.rawValue)),
                            ("attempts", .int(Int64(delivery.attempts))),
                            ("sent_at", .optional(delivery.sentAt.map { RFC3339.format($0, fractional: false) })),
                            ("gave_up_at", .optional(delivery.gaveUpAt.map { RFC3339.format($0, fractional: false) })),
                            (
                                "next_attempt_at",
                                .optional(delivery.state == .pending ? RFC3339.format(delivery.nextAttemptAt, fractional: false) : nil)
                            ),
                        ])
                    })
            ),
        ])
    }

    var textLines: [String] {
        func time(_ date: Date?) -> String { date.map { RFC3339.format($0, fractional: false) } ?? "?" }
        var lines = receivers.map { delivery in
            let state: String
            switch delivery.state {
            case .sent: state = "sent \(time(delivery.sentAt))"
            case .givenUp: state = "GIVEN UP at \(time(delivery.gaveUpAt)) after \(delivery.attempts) attempts"
            case .pending: state = "pending, \(delivery.attempts) attempts so far, next at \(time(delivery.nextAttemptAt))"
            }
            return "\(delivery.receiver): period \(time(delivery.periodStart))..\(time(delivery.periodEnd)) \(state)"
        }
        if receivers.isEmpty { lines.append("none queued yet") }
        if pending > 0 { lines.append("\(pending) waiting to be sent") }
        return lines.enumerated().map { ($0.offset == 0 ? "reports:   " : "           ") + $0.element }
    }
}
