import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// kill -9 at random moments must lose no trace and count none twice.
@Suite(.serialized) struct CrashSafetyTests {
    @Test func killMinusNineLosesNothingAndCountsNothingTwice() async throws {
        try await onTestThreads {
            let rate = 0.3
            let total = 6000
            let checks = """
                checks:
                  "*":
                    - {name: fast, kind: latency, max_ms: 2500}
                """
            let h = try EvaldHarness(config: checks, rate: rate, pollInterval: "50ms")
            // The writer is another process, as the collector is.
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            writer.arguments = [
                "python3", URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/spool_writer.py").path,
                h.spool, "\(total)", "11",
            ]
            try writer.run()
            defer { if writer.isRunning { writer.terminate() } }

            var rng = SplitMix64(state: 5)
            var kills = 0
            var progress: [Int64] = []
            while kills < 25 || writer.isRunning {
                let daemon = try h.startDaemon(logName: "daemon-\(kills).log")
                if kills % 4 == 0 {
                    // 0.1 to 0.6 s after the launch: most of these land while evald starts
                    // (opens and migrates the database, tracks the files).
                    usleep(useconds_t(100_000 + rng.next() % 500_000))
                } else {
                    // 0 to 0.3 s after this run has committed something (while the writer still
                    // writes), so they land while it reads however slowly a loaded machine runs
                    // a debug build. Read through a read-only connection, as `evald status` reads.
                    let before = progress.last ?? 0
                    _ = h.waitUntil(timeout: 30) {
                        guard writer.isRunning, let store = try? h.readOnlyStore() else { return true }
                        return ((try? store.counters())?["lines_read"] ?? 0) > before
                    }
                    usleep(useconds_t(rng.next() % 300_000))
                }
                kill(daemon.processIdentifier, SIGKILL)
                daemon.waitUntilExit()
                #expect(daemon.terminationReason == .uncaughtSignal)
                progress.append(try h.store().counters()["lines_read"] ?? 0)
                kills += 1
                if kills > 200 { break }
            }
            writer.waitUntilExit()
            #expect(writer.terminationStatus == 0)
            // The kills fell while there was work: the count moved between many of them.
            // (At least 5 distinct counts: the kills during startup may land before any read.)
            #expect(Set(progress).count >= 5, "lines read after each kill: \(progress)")
            let rotations = try FileManager.default.contentsOfDirectory(atPath: h.spool).filter { $0.hasPrefix("traces-") }.count
            #expect(rotations >= 3)

            // Restart once more and let it finish.
            let daemon = try h.startDaemon(logName: "daemon-final.log")
            #expect(try h.waitUntil(timeout: 60) { try h.spoolStatus("lines_read") == Int64(total) && h.spoolStatus("bytes_pending") == 0 })
            // SIGTERM only once the daemon is up (its heartbeat written): before its signal handler
            // is installed, the default action ends it, which is not what this test is about.
            #expect(try h.waitUntil { (try h.status()["daemon"] as? [String: Any])?["running"] as? Bool == true })
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)

            let crashed = try h.store()
            let ids = try crashed.evaluations().map(\.traceID)
            #expect(ids.count == Set(ids).count, "duplicates after \(kills) kills")
            let counters = try crashed.counters()
            #expect(counters["lines_read"] == Int64(total))
            #expect(counters["records"] == Int64(total))
            #expect(counters["malformed"] == nil)
            #expect(counters["sampled"] == Int64(ids.count))
            // Scores and rollups committed with their evaluations: each counted exactly once.
            let totals = try crashed.seriesTotals(since: .distantPast, until: .distantFuture)
            let fast = totals.filter { $0.metric == "check:fast" }.reduce(0) { $0 + $1.cell.n }
            let calls = totals.filter { $0.metric == "op:error_rate" }.reduce(0) { $0 + $1.cell.n }
            #expect(fast == Int64(ids.count))
            #expect(calls == Int64(ids.count))
            // Usage from every call committed with the offsets: each call counted exactly once.
            let usage = try crashed.routeUsage(since: .distantPast, until: .distantFuture)
            let routes = ["support-chat", "extract-order", "refunds-assist"]
            for (index, route) in routes.enumerated() {
                let calls = usage.filter { $0.route == route }.reduce(0) { $0 + $1.usage.calls }
                #expect(calls == Int64((0..<total).count { $0 % 3 == index }), "\(route)")
            }
            #expect(usage.reduce(0) { $0 + $1.usage.inputTokens } == Int64((0..<total).reduce(0) { $0 + $1 % 100 }))
            #expect(usage.reduce(0) { $0 + $1.usage.outputTokens } == Int64((0..<total).reduce(0) { $0 + $1 % 37 }))
            let tenants = try crashed.tenantUsage(firstDay: "2026-11-28", lastDay: "2026-11-28")
            for tenant in 0..<7 {
                #expect(tenants.first { $0.tenant == "t\(tenant)" }?.usage.calls == Int64((0..<total).count { $0 % 7 == tenant }))
            }
            let stored = try crashed.evaluations()
            #expect(try stored.allSatisfy { try crashed.checkResults(evaluationID: $0.id).count == 1 })
            // Detection fed every call to the op: series exactly once, kills and all (what the
            // daemon left unfed, `run --once` feeds).
            #expect(try h.run(["run", "--once"]).code == 0)
            let fed = try h.store().detectionStates(kind: "series").filter { $0.key.hasPrefix("op:error_rate|") }.map { _, json in
                try JSONDecoder().decode(SeriesMonitor.self, from: Data(json.utf8)).trafficDays.values.reduce(0, +)
            }
            #expect(fed.reduce(0, +) == total, "op:error_rate samples over \(fed.count) series")
            #expect(try h.store().usageFeedBacklog(after: 0) == 0)

            // The same spool read by a run that was never killed.
            let reference = try EvaldHarness(config: checks, rate: rate)
            try FileManager.default.removeItem(atPath: reference.spool)
            try FileManager.default.copyItem(atPath: h.spool, toPath: reference.spool)
            #expect(try reference.run(["run", "--once"]).code == 0)
            let referenceIDs = try reference.store().evaluations().map(\.traceID)
            #expect(Set(ids) == Set(referenceIDs))
            #expect(ids.count == referenceIDs.count)
            #expect(Set(ids) == EvaldHarness.expectedSample(0..<total, rate: rate))
        }
    }
}
