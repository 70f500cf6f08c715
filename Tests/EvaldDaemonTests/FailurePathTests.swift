import EvaldAlerting
import EvaldCore
import EvaldDaemon
import EvaldHTTP
import EvaldStore
import EvaldTesting
import Foundation
import Logging
import Testing

/// What the judge workers and the alert outbox do when the database refuses a write after the
/// remote side already answered: the answer is kept in memory and written once the store is
/// back, never paid for (a judge call) or sent (a notification) a second time. The store is the
/// real one with a write fault switched on and off; time is a manual clock.
@Suite(.serialized) struct FailurePathTests {
    let root = NSTemporaryDirectory() + "evald-failure-\(UUID().uuidString)"

    static let rubric = """
        ---
        name: helpfulness
        version: 1
        applies_to: ["*"]
        scale: {min: 1, max: 5}
        pass_at: 4
        ---
        Grade the answer.
        Answer: {{output}}
        Reply with JSON only: {"score": <1-5>, "reason": "<one sentence>"}
        """

    func config(_ extra: String) throws -> EvaldConfig {
        try FileManager.default.createDirectory(atPath: root + "/judges", withIntermediateDirectories: true)
        try Self.rubric.write(toFile: root + "/judges/helpfulness.md", atomically: true, encoding: .utf8)
        return try EvaldConfig.parse(yaml: "spool: {dir: spool}\n" + extra, path: root + "/evald.yaml", environment: [:]).0
    }

    /// One sampled evaluation, queued for `judges`.
    func commitEvaluation(_ store: StateStore, judges: [String]) throws {
        let file = try store.trackSpoolFile(path: "/s/a.jsonl", device: 1, inode: 2, fingerprint: "fp", at: Date())
        var batch = IngestBatch(fileID: file.id, startOffset: 0, newOffset: 1, committedAt: Date())
        var record = TraceRecord(recordID: "t1", traceID: "t1", timestamp: Date(), model: "m")
        record.route = "support"
        record.output = "Your order ships tomorrow."
        var line = SampledLine(record: record, sampleRate: 1, lineOffset: 0, recordJSON: NativeRecordEncoder.json(record))
        line.judgeNames = judges
        batch.sampled.append(line)
        try store.commitBatch(batch)
    }

    /// Advances the manual clock a second every 100 ms in the background (the loops under test
    /// tick on real sleeps and read the manual clock) until cancelled.
    func ticking(_ clock: ManualClock) -> Task<Void, Never> {
        testTask {
            while !Task.isCancelled {
                clock.advance(1)
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    @Test func withinOneRunAKeptVerdictIsWrittenOnceTheStoreRecovers() async throws {
        try await onTestThreads {
            defer { try? FileManager.default.removeItem(atPath: root) }
            try await withStubJudge(default: { _ in #"{"score": 5, "reason": "good"}"# }) { stub, transport in
                let config = try config(
                    """
                    endpoints:
                      default: {kind: openai, base_url: "\(stub.baseURL)/v1", model: judge, api_key_env: FAILURE_TEST_KEY, max_retries: 0}
                    judge: {dir: judges, default_endpoint: default}
                    """)
                let store = try StateStore.open(path: root + "/evald.db")
                try commitEvaluation(store, judges: ["helpfulness"])
                let (roster, _) = try JudgeRoster.build(config: config, transport: transport, environment: ["FAILURE_TEST_KEY": "sk-test-1"])
                let setups = SetupSource(DaemonSetup(config: config, checks: .empty, roster: roster, receivers: []))
                let clock = ManualClock()
                let service = JudgeService(
                    store: store, setups: setups, runtime: DaemonRuntime(), logger: Logger(label: "test"),
                    now: { clock.now })
                store.faults.failWrites = true
                let ticker = ticking(clock)
                // The fault clears while the drain waits on the held-back verdict.
                let healer = testTask {
                    while stub.requests.isEmpty { try? await Task.sleep(for: .milliseconds(50)) }
                    try? await Task.sleep(for: .milliseconds(700))
                    store.faults.failWrites = false
                }
                let summary = await service.drain(timeout: 600)
                await healer.value
                ticker.cancel()
                await ticker.value
                #expect(summary.stillQueued == 0, "\(summary)")
                #expect(stub.requests.count == 1, "paid for once")
                #expect(try store.judgeVerdicts(evaluationID: 1).count == 1)
            }
        }
    }

    @Test func aNotificationTheReceiverTookIsRecordedLaterAndNeverSentTwice() async throws {
        try await onTestThreads {
            defer { try? FileManager.default.removeItem(atPath: root) }
            try await withStubServer { hook, transport in
                let config = try config(
                    """
                    alerts:
                      max_backoff: 1s
                      receivers:
                        - {name: hook, kind: webhook, url: "\(hook.baseURL)/hook"}
                    """)
                let store = try StateStore.open(path: root + "/evald.db")
                let receivers = try Daemon.makeReceivers(config, transport: transport)
                let setups = SetupSource(DaemonSetup(config: config, checks: .empty, roster: .empty, receivers: receivers))
                let labels = ["alertname": "SpoolStalled", "severity": "critical", "spool_dir": "/s"]
                _ = try store.fireAlert(
                    AlertFiring(
                        name: "SpoolStalled", severity: "critical", labels: labels,
                        annotations: ["summary": "stalled"], fingerprint: AlertFingerprint.of(labels),
                        numbers: [:], examples: []),
                    receivers: ["hook"], at: Date())
                let clock = ManualClock(Date())
                let delivery = AlertDeliveryService(
                    store: store, setups: setups, runtime: DaemonRuntime(), logger: Logger(label: "test"),
                    now: { clock.now }, random: { 0.5 })

                // Delivered, but the record of it cannot be written: pending, and held back.
                store.faults.failWrites = true
                let ticker = ticking(clock)
                let first = await delivery.drain(timeout: 3)
                #expect(hook.requests.count == 1)
                #expect(first.sent == 1 && first.stillPending == 1)

                // Later rounds with the store back record it without sending again.
                store.faults.failWrites = false
                let second = await delivery.drain(timeout: 30)
                ticker.cancel()
                await ticker.value
                #expect(second.stillPending == 0)
                #expect(hook.requests.count == 1, "sent once")
                #expect(try store.outboxPendingCount(.notification) == 0)
            }
        }
    }

    /// A full disk: StateStoreFailing cannot go through the outbox (the same database), so it is
    /// sent from memory, once per receiver; once writes work it is stored and resolved through
    /// the outbox, and the receiver hears the resolution.
    @Test func stateStoreFailingIsSentFromMemoryThenStoredAndResolvedThroughTheOutbox() async throws {
        try await onTestThreads {
            defer { try? FileManager.default.removeItem(atPath: root) }
            try await withStubServer { hook, transport in
                let config = try config(
                    """
                    alerts:
                      state_store_failing_after: 30s
                      receivers:
                        - {name: hook, kind: webhook, url: "\(hook.baseURL)/hook"}
                    """)
                let store = try StateStore.open(path: root + "/evald.db")
                let receivers = try Daemon.makeReceivers(config, transport: transport)
                let setups = SetupSource(DaemonSetup(config: config, checks: .empty, roster: .empty, receivers: receivers))
                let clock = ManualClock(Date())
                let runtime = DaemonRuntime()
                let health = HealthAlertService(store: store, setups: setups, runtime: runtime, logger: Logger(label: "test"), now: { clock.now })
                runtime.markProgress(IngestCounts(), pendingBytes: 0, at: clock.now)

                store.faults.failWrites = true
                runtime.countPollFailure(reason: "write failed: database or disk is full", store: true, at: clock.now)
                clock.advance(10)
                #expect(try health.evaluate() == 0, "not before alerts.state_store_failing_after")
                clock.advance(30)
                #expect(try health.evaluate() == 1)
                await health.deliverUnstored()
                #expect(hook.requests.count == 1)
                #expect(hook.requests.first?.bodyText.contains("StateStoreFailing") == true)
                #expect(hook.requests.first?.bodyText.contains("disk is full") == true)
                #expect(try store.alerts(includeResolved: true).isEmpty, "nothing could be stored")
                // Later rounds do not send it again.
                clock.advance(5)
                _ = try health.evaluate()
                await health.deliverUnstored()
                #expect(hook.requests.count == 1)

                // Writes work again and the spool loop commits: stored with its resolution, which
                // the outbox delivers to the receiver that heard it fire.
                store.faults.failWrites = false
                runtime.markProgress(IngestCounts(), pendingBytes: 0, at: clock.now)
                clock.advance(5)
                _ = try health.evaluate()
                await health.deliverUnstored()
                let alerts = try store.alerts(includeResolved: true)
                #expect(alerts.map(\.name) == ["StateStoreFailing"])
                #expect(alerts.first?.state == "resolved")
                let delivery = AlertDeliveryService(
                    store: store, setups: setups, runtime: runtime, logger: Logger(label: "test"), now: { clock.now }, random: { 0.5 })
                let drained = await delivery.drain(timeout: 5)
                #expect(drained.sent == 1 && drained.stillPending == 0)
                #expect(hook.requests.count == 2)
                #expect(hook.requests.last?.bodyText.contains("resolved") == true)
            }
        }
    }
}
