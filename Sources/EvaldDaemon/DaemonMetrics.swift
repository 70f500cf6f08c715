import EvaldCore
import EvaldReports
import EvaldStore
import Foundation
import Prometheus
import Synchronization

/// The daemon's Prometheus metrics (`evald_` prefix, Prometheus naming: counters end in
/// `_total`, units in the name). Counters count since the process started; the database's
/// own totals are in `evald status`. The quality series (per check, judge, route and model)
/// are kept apart, bounded by `http.metrics_series_limit`.
public final class DaemonMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    let linesRead: Counter
    let records: Counter
    let quarantined: Counter
    let sampled: Counter
    let evaluations: Counter
    let checkFailures: Counter
    let pollFailures: Counter
    let reloads: Counter
    let reloadsRefused: Counter
    let bytesPending: Gauge
    let spoolFiles: Gauge
    let unreadableFiles: Gauge
    let storeWritesFailing: Gauge
    let lastProgress: Gauge
    let buildInfo: Gauge
    // Judge, alert and notification series: registered now so dashboards and alert rules can
    // be written against them; the judges (and the alert outbox) drive them when they run.
    public let judgeRequests: Counter
    public let judgeTokens: Counter
    public let judgeLatency: DurationHistogram
    public let judgeQueueDepth: Gauge
    public let alertsFiring: Gauge
    public let notificationsSent: Counter
    public let notificationsFailed: Counter
    let detectionSeries: Gauge
    let detectionArmed: Gauge
    let detectionSuspect: Gauge
    let regressionsOpen: Gauge
    let driftWatching: Gauge
    let detectionLag: Gauge
    let detectionUsageBacklog: Gauge
    let detectionDesigns: Counter
    let detectionDesignSeconds: Counter
    let detectionEvaluations: Counter
    private let quality: Mutex<QualityMetrics>

    public init(seriesLimit: Int = HTTPConfig.defaultMetricsSeriesLimit) {
        quality = Mutex(QualityMetrics(limit: seriesLimit))
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        func counter(_ name: String, _ help: String) -> Counter {
            registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "evald", metricName: name, unitName: "total", helpText: help))
        }
        func gauge(_ name: String, _ unit: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "evald", metricName: name, unitName: unit, helpText: help))
        }
        linesRead = counter("spool_lines_read", "Spool lines read (records, blank and malformed lines).")
        records = counter("spool_records", "Spool lines that were records.")
        quarantined = counter("spool_lines_quarantined", "Spool lines quarantined as malformed, oversized or incomplete.")
        sampled = counter("traces_sampled", "Traces kept by the sampler.")
        evaluations = counter("evaluations", "Sampled traces evaluated and stored.")
        checkFailures = counter("check_failures", "Deterministic check verdicts that failed.")
        pollFailures = counter("spool_poll_failures", "Spool polls that failed (database or I/O errors).")
        reloads = counter("config_reloads", "Configuration reloads applied (SIGHUP).")
        reloadsRefused = counter("config_reloads_refused", "Configuration reloads refused because the new configuration was invalid.")
        bytesPending = gauge("spool_pending", "bytes", "Spool bytes not yet read.")
        spoolFiles = gauge("spool_files", "", "Files in the spool directory.")
        unreadableFiles = gauge("spool_unreadable_files", "", "Spool files that cannot be opened (retried every poll).")
        storeWritesFailing = gauge(
            "state_store_writes_failing", "", "1 while the state database refuses the spool loop's commits (a full disk, a lock held), else 0.")
        lastProgress = gauge("last_progress_timestamp", "seconds", "Unix time of the spool loop's last round.")
        buildInfo = registry.makeGauge(name: "evald_build_info", labels: [("version", EvaldVersion.current)], help: "evald's version; always 1.")
        buildInfo.set(1.0)
        judgeRequests = counter("judge_requests", "Requests sent to judge endpoints.")
        judgeTokens = counter("judge_tokens", "Tokens used by judge requests (input and output).")
        judgeLatency = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "evald", metricName: "judge_request_duration", unitName: "seconds", helpText: "Latency of judge requests."),
            buckets: [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60)])
        judgeQueueDepth = gauge("judge_queue_depth", "", "Sampled traces waiting for a judge.")
        alertsFiring = gauge("alerts_firing", "", "Alerts currently firing.")
        notificationsSent = counter("notifications_sent", "Alert notifications delivered to receivers.")
        notificationsFailed = counter("notifications_failed", "Alert notification attempts that failed.")
        detectionSeries = gauge("detection_series", "", "Series (metric, route, model) the detectors watch.")
        detectionArmed = gauge("detection_armed_series", "", "Series whose baseline reached detection.baseline_min_samples (they may fire).")
        detectionSuspect = gauge("detection_suspect_series", "", "Series past half their threshold (their routes sampled at boost_rate).")
        regressionsOpen = gauge("detection_regressions_open", "", "Series with a regression alert open.")
        driftWatching = gauge("drift_switches_watching", "", "Provider version switches whose drift test is still running.")
        detectionLag = gauge("detection_lag", "seconds", "How long the oldest evaluation detection has not fed yet has been committed (0: caught up).")
        detectionUsageBacklog = gauge(
            "detection_usage_backlog", "calls", "Calls committed to the usage journal the op: detectors have not been fed yet (0: caught up).")
        detectionDesigns = counter("detection_designs", "Detector designs made (threshold searches for a series' CUSUM).")
        detectionDesignSeconds = counter("detection_design_seconds", "Seconds spent designing detectors.")
        detectionEvaluations = counter("detection_evaluations", "Evaluations fed to the detectors.")
    }

    /// `evald_judge_errors_total{judge, kind}`: the judge's name (bounded by judge.dir) and a
    /// value-free kind (`no_json`, `truncated`, `timeout`, `connect_failed`, ...).
    public func countJudgeError(judge: String, kind: String) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "evald", metricName: "judge_errors", unitName: "total",
                helpText: "Judge calls that failed (after their retries) or returned an unusable reply, by judge and kind."),
            labels: [("judge", judge), ("kind", kind)]
        ).increment()
    }

    /// One attempt's outcome at an outbox item. Alert notifications: `evald_notifications_sent_total`
    /// and `_failed_total` (each failed attempt). Scheduled reports, by receiver (bounded by the
    /// config): `evald_reports_sent_total`, `evald_reports_retried_total` (failed attempts tried
    /// again) and `evald_reports_given_up_total` (refused, too old, receiver removed, unreadable).
    func countDelivery(_ kind: OutboxKind, receiver: String, outcome: OutboxOutcome) {
        switch (kind, outcome) {
        case (.notification, .sent): notificationsSent.increment()
        case (.notification, .retried), (.notification, .rejected): notificationsFailed.increment()
        case (.notification, .givenUp): break
        case (.report, .sent): reportDeliveries(receiver: receiver).sent.increment()
        case (.report, .retried): reportDeliveries(receiver: receiver).retried.increment()
        case (.report, .rejected), (.report, .givenUp): reportDeliveries(receiver: receiver).givenUp.increment()
        }
    }

    /// The report delivery counters of one receiver; made (at 0) for every receiver in
    /// `report.receivers` when delivery starts, so a scrape shows them before the first report.
    @discardableResult
    func reportDeliveries(receiver: String) -> (sent: Counter, retried: Counter, givenUp: Counter) {
        func counter(_ name: String, _ help: String) -> Counter {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(namespace: "evald", metricName: name, unitName: "total", helpText: help),
                labels: [("receiver", receiver)])
        }
        return (
            counter("reports_sent", "Scheduled reports a receiver accepted (2xx), by receiver."),
            counter("reports_retried", "Scheduled report attempts that failed and will be tried again, by receiver."),
            counter("reports_given_up", "Scheduled reports given up (refused, older than alerts.max_age, receiver removed), by receiver.")
        )
    }

    /// `evald_otlp_requests_total{code}`: the receiver's answers by HTTP status code.
    func countOTLPRequest(status: Int) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "evald", metricName: "otlp_requests", unitName: "total",
                helpText: "OTLP/HTTP export requests answered by the receiver, by HTTP status code."),
            labels: [("code", String(status))]
        ).increment()
    }

    /// `evald_otlp_spans_total{result}`: spans of answered requests, `stored` (in the spool),
    /// `duplicate` (stored before: a client's retry) or `rejected` (partial success).
    func countOTLPSpans(result: String, by count: Int) {
        guard count > 0 else { return }
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "evald", metricName: "otlp_spans", unitName: "total",
                helpText: "Spans the OTLP receiver got in the requests it answered 200, by result (stored, duplicate, rejected)."),
            labels: [("result", result)]
        ).increment(by: Int64(count))
    }

    func recordPoll(_ counts: IngestCounts, checkFailures failed: Int, at now: Date) {
        linesRead.increment(by: counts.linesRead)
        records.increment(by: counts.records)
        quarantined.increment(by: counts.malformed)
        sampled.increment(by: counts.sampled)
        evaluations.increment(by: counts.sampled)
        checkFailures.increment(by: Int64(failed))
        lastProgress.set(now.timeIntervalSince1970)
    }

    /// Check verdicts of committed evaluations: `evald_check_results_total`.
    func recordChecks(_ tally: CheckTally) {
        quality.withLock { $0.add(tally) }
    }

    /// Usage of committed batches, every call: `evald_usage_calls_total`, `_errors_total`,
    /// `_tokens_total` and `_cost_usd_total`.
    func recordUsage(_ usage: UsageTotals) {
        quality.withLock { $0.add(usage) }
    }

    /// A stored, scored judge verdict: `evald_judge_verdicts_total` and `evald_judge_score`.
    func recordVerdict(judge: String, route: String?, model: String, score: Double, passed: Bool) {
        quality.withLock { $0.addVerdict(judge: judge, route: route, model: model, score: score, passed: passed) }
    }

    /// The text exposition format; `levels` are the detector series' pass rates and baselines.
    public func render(status: StatusReport?, levels: [QualityMetrics.Level] = []) -> String {
        if let status {
            bytesPending.set(Double(status.bytesPending))
            spoolFiles.set(Double(status.spoolFiles))
            unreadableFiles.set(Double(status.unreadableFiles.count))
            detectionSeries.set(Double(status.detection.series))
            detectionArmed.set(Double(status.detection.armed))
            detectionSuspect.set(Double(status.detection.suspect))
            regressionsOpen.set(Double(status.detection.regressionsOpen))
            driftWatching.set(Double(status.detection.driftWatching))
            detectionLag.set(status.detection.lagSeconds)
            detectionUsageBacklog.set(Double(status.detection.usageBacklogCalls))
        }
        let quality = quality.withLock { $0.exposition(levels: levels) }
        return registry.emitToString() + quality
    }

    /// What a detection round did, for the counters.
    func recordDetection(_ summary: DetectionEngine.RoundSummary) {
        detectionEvaluations.increment(by: Int64(summary.evaluations))
        if summary.designs > 0 {
            detectionDesigns.increment(by: Int64(summary.designs))
            detectionDesignSeconds.increment(by: summary.designSeconds)
        }
    }
}
