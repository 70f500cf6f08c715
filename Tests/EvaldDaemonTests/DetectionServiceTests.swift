import EvaldCore
import EvaldDaemon
import EvaldStore
import EvaldTesting
import Foundation
import Logging
import Testing

/// The sampling confirmation boost and low-traffic floor as detection publishes them.
@Suite struct DetectionServiceTests {
    let root = NSTemporaryDirectory() + "evald-detection-\(UUID().uuidString)"

    func config() throws -> EvaldConfig {
        try EvaldConfig.parse(
            yaml: """
                spool: {dir: /var/spool/evald}
                sampling: {rate: 0.01, boost_rate: 0.08, min_per_minute: 0.5, max_rate: 0.25}
                detection: {baseline_min_samples: 1000}
                """, path: root + "/evald.yaml", environment: [:]
        ).0
    }

    /// Commits evaluations on `route` at `now - secondsAgo`, each with one `ok` check verdict.
    func commit(_ store: StateStore, route: String, rate: Double, passes: [Bool], at times: [Date], from offset: Int64) throws -> Int64 {
        let file = try store.trackedSpoolFiles().first ?? store.trackSpoolFile(path: "/s/a.jsonl", device: 1, inode: 2, fingerprint: "fp", at: Date())
        var batch = IngestBatch(fileID: file.id, startOffset: offset, newOffset: offset + Int64(passes.count), committedAt: Date())
        for (index, passed) in passes.enumerated() {
            let n = offset + Int64(index)
            var record = TraceRecord(recordID: "t\(n)", traceID: "t\(n)", timestamp: times[index], model: "m")
            record.route = route
            record.output = "o"
            var line = SampledLine(record: record, sampleRate: rate, lineOffset: n, recordJSON: "{}")
            line.checkResults = [CheckResult(name: "ok", kind: "status_ok", passed: passed, detail: "")]
            batch.sampled.append(line)
        }
        try store.commitBatch(batch)
        return offset + Int64(passes.count)
    }

    @Test func suspectedRegressionBoostsItsRouteAndAQuietRouteGetsTheFloorRate() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let store = try StateStore.open(path: root + "/evald.db")
        let now = Date()
        let runtime = DaemonRuntime()
        let service = DetectionEngine(
            store: store, setup: DaemonSetup(config: try config(), checks: .empty, roster: .empty, receivers: []), runtime: runtime,
            logger: Logger(label: "test"),
            now: { now })
        // A busy route (sampled at 1 for the test: 1,200 calls in 20 minutes) passing 9 in 10...
        let busyTimes = (0..<1_200).map { now - 1_200 + Double($0) }
        var offset = try commit(store, route: "support", rate: 1, passes: (0..<1_200).map { $0 % 10 != 0 }, at: busyTimes, from: 0)
        // ...and a quiet one: two samples at 1% in 20 minutes, about 10 calls a minute, which
        // at 1% yields 0.1 samples a minute, under min_per_minute 0.5.
        offset = try commit(store, route: "quiet", rate: 0.01, passes: [true, true], at: [now - 1_200, now - 60], from: offset)
        _ = try service.catchUp()
        try service.publishRaisedRates()
        #expect(runtime.currentRaisedRates.keys.sorted() == ["quiet"], "no suspicion yet")
        #expect(abs((runtime.currentRaisedRates["quiet"] ?? 0) - 0.05) < 1e-6, "the quiet route raised to 0.5 / 10 a minute")

        // Failures in a row: the route is boosted once the statistic is past half its
        // threshold, before any alarm.
        var fails = 0
        while runtime.currentRaisedRates["support"] == nil, fails < 60 {
            offset = try commit(store, route: "support", rate: 1, passes: [false], at: [now], from: offset)
            fails += 1
            _ = try service.catchUp()
            try service.publishRaisedRates()
        }
        #expect(runtime.currentRaisedRates["support"] == 0.08)
        #expect(try store.firingAlertCount() == 0, "boosted after \(fails) failures, before the alarm")
        #expect(fails > 3)

        // Passes bring the statistic back to 0: the boost ends.
        offset = try commit(store, route: "support", rate: 1, passes: Array(repeating: true, count: 200), at: Array(repeating: now, count: 200), from: offset)
        _ = try service.catchUp()
        try service.publishRaisedRates()
        #expect(runtime.currentRaisedRates["support"] == nil)
    }

    @Test func aSliceBesideTheIncumbentIsSampledAtTheBoostRateAndADeployIsNot() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let store = try StateStore.open(path: root + "/evald.db")
        let now = Date()
        let runtime = DaemonRuntime()
        let service = DetectionEngine(
            store: store, setup: DaemonSetup(config: try config(), checks: .empty, roster: .empty, receivers: []), runtime: runtime,
            logger: Logger(label: "test"), now: { now })
        let file = try store.trackSpoolFile(path: "/s/a.jsonl", device: 1, inode: 2, fingerprint: "fp", at: now)
        var offset: Int64 = 0
        func commit(route: String, _ versions: [String]) throws {
            var batch = IngestBatch(fileID: file.id, startOffset: offset, newOffset: offset + Int64(versions.count), committedAt: now)
            for (index, version) in versions.enumerated() {
                let n = offset + Int64(index)
                var record = TraceRecord(recordID: "t\(n)", traceID: "t\(n)", timestamp: now - 3_000 + Double(n), model: "m")
                record.route = route
                record.output = "o"
                record.promptVersion = version
                batch.sampled.append(SampledLine(record: record, sampleRate: 0.01, lineOffset: n, recordJSON: "{}"))
            }
            try store.commitBatch(batch)
            offset += Int64(versions.count)
        }
        // "ab" runs v1, then v2 beside it on one call in ten; "deployed" moves to v2 whole.
        try commit(route: "ab", Array(repeating: "v1", count: 200) + (0..<100).map { $0 % 10 == 0 ? "v2" : "v1" })
        try commit(route: "deployed", Array(repeating: "v1", count: 200) + Array(repeating: "v2", count: 100))
        _ = try service.catchUp()
        try service.publishRaisedRates()
        #expect(runtime.currentRaisedRates == ["ab": 0.08])
    }

    @Test func anAlertNoStateHoldsOpenIsResolvedAtLoad() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let store = try StateStore.open(path: root + "/evald.db")
        // A QualityRegression whose series state is gone (a check removed from the config, or a state reset).
        let labels = ["alertname": "QualityRegression", "severity": "critical", "route": "support", "model": "m", "metric": "check:gone"]
        _ = try store.fireAlert(
            AlertFiring(
                name: "QualityRegression", severity: "critical", labels: labels, annotations: [:],
                fingerprint: AlertFingerprint.of(labels), numbers: [:], examples: []), receivers: [], at: Date())
        #expect(try store.firingAlertCount() == 1)
        let service = DetectionEngine(
            store: store, setup: DaemonSetup(config: try config(), checks: .empty, roster: .empty, receivers: []), runtime: DaemonRuntime(),
            logger: Logger(label: "test"))
        _ = try service.catchUp()
        #expect(try store.firingAlertCount() == 0)
        #expect(try store.alertTransitions(id: 1).last?.numbers["state_reset"] == 1)
    }

    @Test func historyPresentAtInstallBuildsBaselinesWithoutNotifying() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let store = try StateStore.open(path: root + "/evald.db")
        let now = Date()
        let times = (0..<1_300).map { now - 2_000 + Double($0) }
        let offset = try commit(store, route: "support", rate: 1, passes: (0..<1_300).map { $0 < 1_100 ? $0 % 10 != 0 : $0 % 2 == 0 }, at: times, from: 0)
        // As migration v5 records it for a database that already held these evaluations.
        try store.commitDetectionRound(
            states: [DetectionStateRow(kind: "cursor", key: "warmup_evaluation", json: "\(offset)")],
            actions: [], judgeFeedConsumed: nil, at: now)
        let service = DetectionEngine(
            store: store, setup: DaemonSetup(config: try config(), checks: .empty, roster: .empty, receivers: []), runtime: DaemonRuntime(),
            logger: Logger(label: "test"),
            now: { now })
        _ = try service.catchUp()
        #expect(try store.firingAlertCount() == 0, "a regression in replayed history is not news")
        let monitor = try JSONDecoder().decode(
            SeriesMonitor.self, from: Data(try #require(try store.detectionStates(kind: "series")["check:ok|pass_rate|support|m"]).utf8))
        #expect(monitor.trafficDays.values.reduce(0, +) == 1_300)
        #expect(monitor.detector != nil, "the baseline was learnt from the history")
        #expect(monitor.open != nil, "the regression in it was found, only not notified")
    }

    @Test func raisedRatesKeepEveryTraceTheConfiguredRateKeeps() async {
        await offPool {
            let sampler = TraceSampler(globalRate: 0.01, routeRates: [(Glob("refunds-*"), 0.05)])
            let raised = sampler.raising(["support": 0.08, "refunds-assist": 0.02])
            var rng = SplitMix64(state: 12)
            for _ in 0..<20_000 {
                let randomness = rng.next() >> 8
                for route in ["support", "refunds-assist", "other"] {
                    if sampler.keptRate(randomness: randomness, route: route) != nil {
                        #expect(raised.keptRate(randomness: randomness, route: route) != nil)
                    }
                }
            }
            #expect(raised.rate(forRoute: "support") == 0.08)
            #expect(raised.rate(forRoute: "refunds-assist") == 0.05, "a raise never lowers a configured rate")
            #expect(raised.rate(forRoute: "other") == 0.01)
            #expect(raised.lowestThreshold == TraceSampler.threshold(rate: 0.08))
        }
    }
}
