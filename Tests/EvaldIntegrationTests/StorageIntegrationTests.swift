import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Bounded state through the real binary: what an evaluation costs on the seeded example
/// traffic, and `retention.max_db_bytes` keeping the file under its limit without losing what
/// must stay, also when the daemon is killed while it prunes or vacuums.
@Suite(.serialized) struct StorageIntegrationTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The example config's checks (examples/evald.yaml).
    static var exampleChecks: String {
        get throws {
            let text = try String(contentsOf: repositoryRoot.appendingPathComponent("examples/evald.yaml"), encoding: .utf8)
            let lines = text.components(separatedBy: "\n")
            let start = try #require(lines.firstIndex { $0.hasPrefix("checks:") })
            let end = try #require(lines[(start + 1)...].firstIndex { !$0.isEmpty && !$0.hasPrefix(" ") && !$0.hasPrefix("#") })
            return lines[start..<end].joined(separator: "\n")
        }
    }

    /// The storage budget: 400 bytes per evaluation on average, all
    /// it brings counted (record, check results, the judge's verdict and queue row, rollups,
    /// indexes), at a production rate (the seeded example traffic at 100 evaluations/s).
    @Test func anEvaluationCostsAtMost400BytesOnTheSeededExampleTraffic() async throws {
        try await onTestThreads {
            let judge = try await StubJudgeServer.start { _ in #"{"score": 4, "reason": "answers the question"}"# }
            defer { Task { try? await judge.stop() } }
            let h = try EvaldHarness(
                config: """
                    \(try Self.exampleChecks)
                    endpoints:
                      default: {kind: openai, base_url: "\(judge.baseURL)/v1", model: judge-model, api_key_env: EVALD_TEST_JUDGE_KEY, concurrency: 8}
                    judge:
                      dir: judges
                    """, rate: 1)
            try FileManager.default.createDirectory(atPath: h.root + "/judges", withIntermediateDirectories: true)
            try FileManager.default.copyItem(
                atPath: Self.repositoryRoot.appendingPathComponent("reference-judges/helpfulness.md").path, toPath: h.root + "/judges/helpfulness.md")
            try FileManager.default.copyItem(atPath: Self.repositoryRoot.appendingPathComponent("examples/schemas").path, toPath: h.root + "/schemas")
            // 4,000 records over 40 s of trace time in four files, seed 42: byte-identical on every
            // run. (The generator weights hours of the day; at 18:00 UTC the weight is 0.99.)
            let generated = h.root + "/generated"
            let generator = try h.run(
                [
                    "python3", Self.repositoryRoot.appendingPathComponent("examples/generate_spool.py").path, "--out", generated, "--records", "4000",
                    "--files", "4", "--span-hours", "0.011", "--start", "2026-11-28T18:00:00Z", "--seed", "42", "--malformed", "0", "--clean",
                ], config: false, executable: "/usr/bin/env")
            #expect(generator.code == 0, "\(generator.stderr)")
            let files = try FileManager.default.contentsOfDirectory(atPath: generated).sorted()
            #expect(files.count == 4)
            let env = ["EVALD_TEST_JUDGE_KEY": "sk-test"]

            // The first half makes what is made once (dictionaries, series, detection state);
            // the second half is what the traffic costs from then on.
            for file in files.prefix(2) { try FileManager.default.moveItem(atPath: generated + "/" + file, toPath: h.spool + "/" + file) }
            let first = try h.run(["run", "--once"], environment: env)
            #expect(first.code == 0, "\(first.stderr)")
            let before = try h.store().storageSize().usedBytes
            let evaluationsBefore = try h.store().evaluationCount()
            for file in files.suffix(2) { try FileManager.default.moveItem(atPath: generated + "/" + file, toPath: h.spool + "/" + file) }
            let second = try h.run(["run", "--once"], environment: env)
            #expect(second.code == 0, "\(second.stderr)")
            let store = try h.store()
            let added = try store.evaluationCount() - evaluationsBefore
            #expect(added == 2000)
            #expect(try store.counters()["judged"] ?? 0 > 1000, "one judge graded the support and refund routes")
            let perEvaluation = Double(try store.storageSize().usedBytes - before) / Double(added)
            #expect(perEvaluation <= 400, "\(perEvaluation) bytes per evaluation")
            print("storage: \(perEvaluation) bytes per evaluation on the seeded example traffic")
            // And what is stored still reads back.
            let explain = try h.run(["explain", "e-3000"])
            #expect(explain.stdout.contains("evaluation 3000: trace "), "\(explain.stdout)\(explain.stderr)")
        }
    }

    struct Prepared {
        var h: EvaldHarness
        var examples: [Int64]
        var goldenTrace: String
        var total: Int
    }

    /// 12,000 small evaluations (about 2 MB) of one minute, already fed to detection; an open
    /// alert whose examples are the three oldest, and a golden set holding the tenth's trace.
    func prepare(limit: String) throws -> Prepared {
        let h = try EvaldHarness(
            config: """
                checks:
                  "*":
                    - {name: fast, kind: latency, max_ms: 2500}
                golden:
                  dir: golden
                retention: {max_db_bytes: \(limit)}
                """, rate: 1, pollInterval: "50ms")
        let total = 12_000
        try h.append("a.jsonl", (0..<total).map { EvaldHarness.line($0) }.joined())
        let once = try h.run(["run", "--once"])
        #expect(once.code == 0, "\(once.stderr)")
        let store = try h.store()
        #expect(try store.storageSize().usedBytes > 1_500_000)
        let ids = try store.evaluations().map(\.id)
        let examples = Array(ids.prefix(3))
        // Size pruning keeps the examples of any firing alert. A detection alert here would be
        // resolved at the daemon's start (no detector state holds it open), so the alert is one
        // no evald service owns: it stays firing through every restart of the test.
        let alert = AlertFiring(
            name: "HeldOpenByTest", severity: "critical", labels: ["alertname": "HeldOpenByTest", "metric": "check:fast"], annotations: [:],
            fingerprint: "storage-test", examples: examples)
        #expect(try store.fireAlert(alert, receivers: [], at: Date()) != nil)
        let goldenTrace = EvaldHarness.traceID(9)
        try FileManager.default.createDirectory(atPath: h.root + "/golden/kept", withIntermediateDirectories: true)
        try (#"{"id":"kept-case","# + EvaldHarness.line(9).dropFirst()).write(toFile: h.root + "/golden/kept/cases.jsonl", atomically: true, encoding: .utf8)
        return Prepared(h: h, examples: examples, goldenTrace: goldenTrace, total: total)
    }

    /// What must hold after size pruning, however often it was interrupted.
    func expectKept(_ p: Prepared, limit: Int64, appended: Int) throws {
        let store = try p.h.store()
        let size = try store.storageSize()
        #expect(size.fileBytes <= limit && size.databaseBytes <= limit, "\(size)")
        let counters = try store.counters()
        let pruned = counters["pruned_by_size"] ?? 0
        let left = try store.evaluationCount()
        #expect(pruned > 0)
        // Every evaluation is either still there or counted as pruned, once.
        #expect(Int64(left) + pruned == Int64(p.total + appended), "\(left) left, \(pruned) pruned")
        #expect(counters["sampled"] == Int64(p.total + appended))
        for id in p.examples { #expect(try store.evaluationDetail(id: id) != nil, "alert example e-\(id) pruned") }
        #expect(try store.evaluationIDs(traceOrRecordID: p.goldenTrace).count == 1, "golden trace pruned")
        // Rollups are never pruned by size: the minute still counts every evaluation.
        let totals = try store.seriesTotals(since: .distantPast, until: .distantFuture)
        #expect(totals.filter { $0.metric == "check:fast" }.reduce(0) { $0 + $1.cell.n } == Int64(p.total + appended))
        let status = try p.h.run(["status", "--json"]).json["storage"] as? [String: Any]
        #expect((status?["pruned_by_size"] as? NSNumber)?.int64Value == pruned)
        #expect((status?["max_db_bytes"] as? NSNumber)?.int64Value == limit)
        #expect(try store.alerts(includeResolved: false).allSatisfy { $0.name != "StateStoreFailing" })
    }

    @Test func sizeRetentionKeepsAlertExamplesGoldenTracesAndRollups() async throws {
        try await onTestThreads {
            let p = try prepare(limit: "1MiB")
            let daemon = try p.h.startDaemon()
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            #expect(
                try p.h.waitUntil(timeout: 60) {
                    // The file itself follows the pages in use at the daemon's next checkpoint.
                    let size = try p.h.store().storageSize()
                    return try p.h.store().counters()["pruned_by_size"] ?? 0 > 0 && size.databaseBytes <= 1 << 20 && size.fileBytes <= 1 << 20
                })
            #expect(try p.h.waitUntil { (try p.h.status()["daemon"] as? [String: Any])?["running"] as? Bool == true })
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
            try expectKept(p, limit: 1 << 20, appended: 0)
            let text = try p.h.run(["status"]).stdout
            #expect(text.contains("storage:   "), "\(text)")
            #expect(text.contains("limit 1.0 MiB"), "\(text)")
        }
    }

    @Test func killMinusNineWhilePruningOrVacuumingLosesNothingThatStaysAndCountsNothingTwice() async throws {
        try await onTestThreads {
            let p = try prepare(limit: "1MiB")
            var rng = SplitMix64(state: 23)
            var appended = 0
            var progress: [Int64] = []
            for round in 0..<12 {
                // More traffic between kills, so that every start has pruning to do.
                try p.h.append("a.jsonl", (0..<1500).map { EvaldHarness.line(p.total + appended + $0) }.joined())
                appended += 1500
                let daemon = try p.h.startDaemon(logName: "daemon-\(round).log")
                usleep(useconds_t(150_000 + rng.next() % 1_200_000))
                kill(daemon.processIdentifier, SIGKILL)
                daemon.waitUntilExit()
                #expect(daemon.terminationReason == .uncaughtSignal)
                progress.append(try p.h.store().counters()["pruned_by_size"] ?? 0)
            }
            // The kills fell while there was pruning to do: the count moved between several of them.
            #expect(Set(progress).count >= 3, "pruned after each kill: \(progress)")
            let daemon = try p.h.startDaemon(logName: "daemon-final.log")
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            #expect(
                try p.h.waitUntil(timeout: 60) {
                    try p.h.spoolStatus("lines_read") == Int64(p.total + appended) && p.h.store().storageSize().databaseBytes <= 1 << 20
                })
            #expect(try p.h.waitUntil { (try p.h.status()["daemon"] as? [String: Any])?["running"] as? Bool == true })
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
            try expectKept(p, limit: 1 << 20, appended: appended)
            let ids = try p.h.store().evaluations().map(\.traceID)
            #expect(ids.count == Set(ids).count)
        }
    }
}
