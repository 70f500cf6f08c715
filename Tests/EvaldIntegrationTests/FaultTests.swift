import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// What the machine does to evald, through the binary: a full disk, a locked database, a
/// vanished spool directory, an unreadable file, a stopped process. Each time evald logs it,
/// says so where an operator looks, goes on, and loses nothing nor counts anything twice.
/// (docs/faults.md describes each behaviour.)
@Suite(.serialized) struct FaultTests {
    static let checks = "checks:\n  \"*\":\n    - {name: fast, kind: latency, max_ms: 2500}\n"

    static func config(listen: String = "", alerts: String = "") -> String {
        "state_dir: state\nspool:\n  dir: spool\n  poll_interval: 100ms\nsampling:\n  rate: 1\nhttp:\n  listen: \"\(listen)\"\n\(checks)\(alerts)"
    }

    static func log(_ h: EvaldHarness, _ name: String = "daemon.log") -> String {
        (try? String(contentsOfFile: h.root + "/" + name, encoding: .utf8)) ?? ""
    }

    /// The port `http.listen: 127.0.0.1:0` got, from the daemon's log.
    static func httpPort(_ h: EvaldHarness, log name: String = "daemon.log") -> Int {
        var port = 0
        _ = h.waitUntil(timeout: 30) {
            let text = log(h, name)
            guard let range = text.range(of: #"http\.port=\d+"#, options: .regularExpression) else { return false }
            port = Int(text[range].dropFirst("http.port=".count)) ?? 0
            return port > 0
        }
        return port
    }

    /// GET on 127.0.0.1: the status code and body (0 when the request failed).
    static func get(_ port: Int, _ path: String) -> (code: Int, body: String) {
        let result = Mutex<(Int, String)>((0, ""))
        let done = DispatchSemaphore(value: 0)
        let task = URLSession.shared.dataTask(with: URL(string: "http://127.0.0.1:\(port)\(path)")!) { data, response, _ in
            result.withLock { $0 = ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self)) }
            done.signal()
        }
        task.resume()
        if done.wait(timeout: .now() + 20) == .timedOut { task.cancel() }
        return result.withLock { $0 }
    }

    static func statusJSON(_ port: Int) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(get(port, "/api/v1/status").body.utf8))) as? [String: Any] ?? [:]
    }

    static func linesRead(_ status: [String: Any]) -> Int {
        ((status["spool"] as? [String: Any])?["lines_read"] as? NSNumber)?.intValue ?? -1
    }

    static func metric(_ port: Int, _ name: String) -> Double? {
        get(port, "/metrics").body.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
    }

    /// Every trace read once: as many evaluations as lines (sampling 1.0), no trace id twice.
    static func expectEachTraceOnce(_ store: StateStore, total: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let ids = try store.evaluations().map(\.traceID)
        #expect(ids.count == total, sourceLocation: sourceLocation)
        #expect(Set(ids) == Set((0..<total).map(EvaldHarness.traceID)), sourceLocation: sourceLocation)
        let counters = try store.counters()
        #expect(counters["lines_read"] == Int64(total), sourceLocation: sourceLocation)
        #expect(counters["records"] == Int64(total), sourceLocation: sourceLocation)
        #expect(counters["sampled"] == Int64(total), sourceLocation: sourceLocation)
        let fast = try store.seriesTotals(since: .distantPast, until: .distantFuture).filter { $0.metric == "check:fast" }.reduce(0) { $0 + $1.cell.n }
        #expect(fast == Int64(total), "rollups count each evaluation once", sourceLocation: sourceLocation)
    }

    static func lines(_ range: Range<Int>) -> String { range.map(EvaldHarness.line).joined() }

    // MARK: full disk

    @Test func aFullDiskStopsCommitsRaisesStateStoreFailingFromMemoryAndLosesNothing() async throws {
        try await onTestThreads {
            // Root and a mount namespace: the state directory is a small tmpfs only evald sees.
            guard getuid() == 0 else {
                Issue.record("skipped: mounting a tmpfs in a private mount namespace needs root (CI runs as root)")
                return
            }
            let probe = try EvaldHarness()
            try FileManager.default.createDirectory(atPath: probe.state, withIntermediateDirectories: true)
            let tried = try probe.run(["-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs \"$0\"", probe.state], config: false, executable: "/usr/bin/unshare")
            guard tried.code == 0 else {
                Issue.record(
                    "skipped: `unshare -m` with a tmpfs mount failed here (\(tried.stderr.trimmingCharacters(in: .whitespacesAndNewlines))); a container without CAP_SYS_ADMIN cannot run this test"
                )
                return
            }
            let recorder = try await StubHTTPServer.start { _ in .respond(status: 200, body: Array("ok".utf8)) }
            defer { Task { try? await recorder.stop() } }
            let h = try EvaldHarness()
            try FileManager.default.createDirectory(atPath: h.state, withIntermediateDirectories: true)
            try h.writeConfig(
                Self.config(
                    listen: "127.0.0.1:0",
                    alerts: """
                        alerts:
                          state_store_failing_after: 2s
                          max_backoff: 1s
                          receivers:
                            - {name: hook, kind: webhook, url: "\(recorder.baseURL)/hook"}
                        """))
            let first = 20
            try h.append("a.jsonl", Self.lines(0..<first))
            // unshare execs sh, which execs evald: one pid, whose /proc/PID/root shows its mounts.
            let daemon = try h.start(
                [
                    "-m", "sh", "-c", "mount -t tmpfs -o size=6m tmpfs \"$0\" && exec \"$1\" run --config \"$2\"", h.state, EvaldHarness.binary,
                    h.configPath,
                ], logName: "daemon.log", executable: "/usr/bin/unshare", config: false)
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            let port = Self.httpPort(h)
            #expect(port > 0, "\(Self.log(h))")
            #expect(h.waitUntil(timeout: 30) { Self.linesRead(Self.statusJSON(port)) == first })
            let inside = "/proc/\(daemon.processIdentifier)/root\(h.state)"
            #expect(FileManager.default.fileExists(atPath: inside + "/evald.db"))
            #expect(!FileManager.default.fileExists(atPath: h.state + "/evald.db"), "the database is on the namespace's tmpfs")

            // Fill the file system.
            let filler = open(inside + "/filler", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            #expect(filler >= 0)
            let chunk = [UInt8](repeating: 0x5A, count: 1 << 16)
            while write(filler, chunk, chunk.count) > 0 {}
            var small = [UInt8](repeating: 0x5A, count: 512)
            while write(filler, &small, 1) > 0 {}
            #expect(errno == ENOSPC)
            close(filler)

            let total = 3000
            try h.append("a.jsonl", Self.lines(first..<total))
            #expect(h.waitUntil(timeout: 30) { Self.log(h).contains("msg=spool.poll_failed") }, "\(Self.log(h))")
            #expect(Self.log(h).contains("full"), "SQLite says the disk is full")
            // /healthz says so, and /metrics.
            #expect(
                h.waitUntil(timeout: 10) {
                    let health = Self.get(port, "/healthz")
                    return health.code == 503 && health.body.contains("state database writes failing")
                })
            #expect(Self.metric(port, "evald_state_store_writes_failing") == 1)
            // StateStoreFailing reaches the webhook (from memory when the outbox cannot be written).
            let hook = { (status: String) in
                recorder.requests.filter { $0.path == "/hook" }.contains { request in
                    guard let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any],
                        let alerts = body["alerts"] as? [[String: Any]]
                    else { return false }
                    return alerts.contains { ($0["labels"] as? [String: String])?["alertname"] == "StateStoreFailing" && $0["status"] as? String == status }
                }
            }
            #expect(h.waitUntil(timeout: 40) { hook("firing") }, "\(Self.log(h))")
            #expect(daemon.isRunning)
            #expect(Self.linesRead(Self.statusJSON(port)) < total, "nothing more was committed")

            // Space comes back: it catches up, resolves, and /healthz is ok again.
            try FileManager.default.removeItem(atPath: inside + "/filler")
            #expect(h.waitUntil(timeout: 90) { Self.linesRead(Self.statusJSON(port)) == total }, "\(Self.log(h))")
            #expect(h.waitUntil(timeout: 20) { Self.get(port, "/healthz").code == 200 })
            #expect(Self.metric(port, "evald_state_store_writes_failing") == 0)
            #expect(h.waitUntil(timeout: 40) { hook("resolved") }, "\(Self.log(h))")
            #expect(h.waitUntil(timeout: 20) { Self.log(h).contains("msg=spool.poll_recovered") }, "\(Self.log(h))")

            // SQLite resolves /proc/PID/root back to this namespace's /: copy the database out
            // while evald is stopped (nothing half-written in the copy), then read the copy.
            kill(daemon.processIdentifier, SIGSTOP)
            let copy = h.root + "/copy"
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: inside + "/evald.db" + suffix) {
                try FileManager.default.copyItem(atPath: inside + "/evald.db" + suffix, toPath: copy + "/evald.db" + suffix)
            }
            kill(daemon.processIdentifier, SIGCONT)
            let store = try StateStore.open(path: copy + "/evald.db")
            try Self.expectEachTraceOnce(store, total: total)
            let alerts = try store.alerts(includeResolved: true).filter { $0.name == "StateStoreFailing" }
            #expect(alerts.count == 1 && alerts.first?.state == "resolved", "the alert's history is stored once writes work")
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
        }
    }

    // MARK: locked database

    @Test func aWriteLockHeldThirtySecondsDelaysCommitsAndLosesNothing() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            try h.writeConfig(Self.config())
            try h.append("a.jsonl", Self.lines(0..<100))
            let daemon = try h.startDaemon()
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            #expect(h.waitUntil(timeout: 30) { (try? h.store().counters()["lines_read"]) == 100 })

            // Another process takes the write lock (BEGIN IMMEDIATE) and keeps it at least 30 s,
            // and until the test has seen ingest fail: other services' writes queue ahead of
            // ingest's, each waiting out the 10 s busy timeout, so under load ingest's own
            // failure can come later than 30 s.
            let release = h.root + "/release-lock"
            let script = """
                import os, sqlite3, sys, time
                db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
                db.execute("BEGIN IMMEDIATE")
                print("locked", flush=True)
                start = time.time()
                while time.time() - start < 30 or (not os.path.exists(sys.argv[2]) and time.time() - start < 120):
                    time.sleep(0.2)
                db.execute("COMMIT")
                print("released", flush=True)
                """
            let locker = try h.start(
                ["python3", "-c", script, h.state + "/evald.db", release], logName: "locker.log", executable: "/usr/bin/env", config: false)
            #expect(h.waitUntil(timeout: 20) { Self.log(h, "locker.log").contains("locked") })
            try h.append("a.jsonl", Self.lines(100..<300))
            #expect(h.waitUntil(timeout: 100) { Self.log(h).contains("msg=spool.poll_failed") }, "\(Self.log(h))")
            #expect(Self.log(h).contains("locked"), "the log says why")
            // (Read-only, as `evald status` reads: opening for writing would wait for the lock.)
            #expect(try h.readOnlyStore()?.counters()["lines_read"] == 100, "nothing committed under the lock")
            #expect(daemon.isRunning)

            FileManager.default.createFile(atPath: release, contents: Data())
            locker.waitUntilExit()
            #expect(Self.log(h, "locker.log").contains("released"))
            #expect(h.waitUntil(timeout: 60) { (try? h.store().counters()["lines_read"]) == 300 }, "\(Self.log(h))")
            // The recovery is logged when the poll returns, just after its commit is visible.
            #expect(h.waitUntil(timeout: 20) { Self.log(h).contains("msg=spool.poll_recovered") }, "\(Self.log(h))")
            try Self.expectEachTraceOnce(try h.store(), total: 300)
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
        }
    }

    // MARK: vanished spool

    @Test func aVanishedSpoolDirectoryIsLoggedOnceRaisesSpoolStalledAndIsReadAgainWhenBack() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            try h.writeConfig(Self.config(alerts: "alerts:\n  spool_stalled_after: 2s\n"))
            try h.append("a.jsonl", Self.lines(0..<20))
            let daemon = try h.startDaemon()
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            #expect(h.waitUntil(timeout: 30) { (try? h.store().counters()["lines_read"]) == 20 })

            try FileManager.default.removeItem(atPath: h.spool)
            #expect(h.waitUntil(timeout: 20) { Self.log(h).contains("msg=spool.unreadable") }, "\(Self.log(h))")
            let stalled = {
                (try? h.store().alerts(includeResolved: true).filter { $0.name == "SpoolStalled" }) ?? []
            }
            #expect(h.waitUntil(timeout: 30) { stalled().contains { $0.state == "firing" } }, "\(Self.log(h))")
            #expect(stalled().first?.annotations["summary"]?.contains("No such file or directory") == true, "\(stalled())")
            let status = try h.status()
            #expect((status["spool"] as? [String: Any])?["directory_error"] as? String != nil, "\(status)")
            #expect(daemon.isRunning)

            // Recreated, with a new file: read, and the alert resolves.
            try FileManager.default.createDirectory(atPath: h.spool, withIntermediateDirectories: true)
            try h.append("b.jsonl", Self.lines(20..<40))
            #expect(h.waitUntil(timeout: 30) { (try? h.store().counters()["lines_read"]) == 40 }, "\(Self.log(h))")
            #expect(h.waitUntil(timeout: 30) { stalled().allSatisfy { $0.state == "resolved" } })
            let log = Self.log(h)
            #expect(log.contains("msg=spool.readable_again"))
            // Logged when it started, not at every 100 ms poll.
            #expect(log.components(separatedBy: "msg=spool.unreadable").count - 1 == 1, "\(log)")
            try Self.expectEachTraceOnce(try h.store(), total: 40)
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
        }
    }

    // MARK: unreadable file

    /// Root reads any file whatever its mode, so under root evald runs as nobody (setpriv) and
    /// the file belongs to root with mode 0600: open(2) fails with EACCES, as it would for the
    /// unprivileged `evald` user of the systemd unit.
    @Test func anUnreadableFileIsCountedAndReportedAndTheOthersGoOn() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            try h.writeConfig(Self.config(listen: "127.0.0.1:0"))
            try h.append("a.jsonl", Self.lines(0..<10))
            try h.append("secret.jsonl", Self.lines(10..<20))
            let secret = h.spool + "/secret.jsonl"
            var prefix: [String] = []
            if getuid() == 0 {
                guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
                    Issue.record("skipped: running as root and setpriv (util-linux) is missing, so no file can be made unreadable")
                    return
                }
                prefix = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
                for path in [h.root, h.spool, h.spool + "/a.jsonl", h.configPath] { chown(path, 65534, 65534) }
                try FileManager.default.createDirectory(atPath: h.state, withIntermediateDirectories: true)
                chown(h.state, 65534, 65534)
                chown(secret, 0, 0)
            }
            chmod(secret, 0o600)
            if getuid() != 0 { chmod(secret, 0o000) }
            let daemon =
                prefix.isEmpty
                ? try h.startDaemon()
                : try h.start(
                    Array(prefix.dropFirst()) + [EvaldHarness.binary, "run", "--config", h.configPath], logName: "daemon.log", executable: prefix[0],
                    config: false)
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            let port = Self.httpPort(h)
            #expect(h.waitUntil(timeout: 30) { Self.linesRead(Self.statusJSON(port)) == 10 }, "\(Self.log(h))")
            #expect(h.waitUntil(timeout: 10) { Self.metric(port, "evald_spool_unreadable_files") == 1 })
            let spool = Self.statusJSON(port)["spool"] as? [String: Any]
            #expect(spool?["unreadable_files"] as? [String] == [secret], "\(String(describing: spool))")
            #expect((spool?["bytes_pending"] as? NSNumber)?.intValue ?? 0 > 0, "its bytes wait")
            #expect(Self.log(h).contains("Permission denied"), "\(Self.log(h))")

            // The other files go on.
            try h.append("a.jsonl", Self.lines(20..<30))
            #expect(h.waitUntil(timeout: 30) { Self.linesRead(Self.statusJSON(port)) == 20 })

            // Readable again: read, and no longer reported.
            chmod(secret, 0o644)
            #expect(h.waitUntil(timeout: 30) { Self.linesRead(Self.statusJSON(port)) == 30 }, "\(Self.log(h))")
            #expect(h.waitUntil(timeout: 10) { Self.metric(port, "evald_spool_unreadable_files") == 0 })
            let log = Self.log(h)
            #expect(log.components(separatedBy: "msg=spool.unreadable").count - 1 == 1, "reported once, not every poll: \(log)")
            #expect(log.contains("msg=spool.readable_again"))
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
            try Self.expectEachTraceOnce(try h.store(), total: 30)
        }
    }

    // MARK: clock jumps

    /// A writer whose clock jumps a year back, then a year ahead: the rollups keep the past
    /// minutes (retention prunes them after rollup_days) and put the future at most
    /// `TraceClock.maxAhead` after the read; detection raises nothing; the records keep the
    /// timestamps they were written with.
    @Test func traceTimestampsAYearBackAndAheadKeepRollupsAndDetectorsSane() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            try h.writeConfig(Self.config())
            let now = Date()
            let year = 365 * 86400.0
            func line(_ n: Int, _ at: Date) -> String {
                #"{"trace_id":"\#(EvaldHarness.traceID(n))","timestamp":"\#(RFC3339.format(at))","route":"r","model":"m","input":[{"role":"user","content":"q \#(n)"}],"output":"a \#(n)","latency_ms":\#(100 + n % 50)}"#
                    + "\n"
            }
            // Interleaved: now, a year back, a year ahead, 300 of each.
            var text = ""
            for n in 0..<900 {
                let offset = n % 3 == 0 ? 0 : (n % 3 == 1 ? -year : year)
                text += line(n, now + offset - Double(900 - n))
            }
            try h.append("a.jsonl", text)
            let run = try h.run(["run", "--once", "--json"])
            #expect(run.code == 0, "\(run.stderr)")
            let store = try h.store()
            try Self.expectEachTraceOnce(store, total: 900)
            func checks(_ since: Date, _ until: Date) throws -> Int64 {
                try store.seriesTotals(since: since, until: until).filter { $0.metric == "check:fast" }.reduce(0) { $0 + $1.cell.n }
            }
            #expect(try checks(now - 2 * 3600, now + 2 * 3600) == 600, "now, and a year ahead clamped to at most an hour after the read")
            #expect(try checks(now + 2 * 3600, .distantFuture) == 0, "no rollup a year ahead")
            #expect(try checks(.distantPast, now - 2 * 3600) == 300, "a year back: kept in its minutes until rollup_days")
            // Detection read them all and raised nothing.
            let status = try h.status()
            let detection = try #require(status["detection"] as? [String: Any])
            #expect((detection["lag_seconds"] as? NSNumber)?.doubleValue == 0, "\(detection)")
            #expect((detection["regressions_open"] as? NSNumber)?.intValue == 0, "\(detection)")
            #expect(try store.alerts(includeResolved: true).isEmpty)
            // The window of `evald metrics` ends now: the traces of now are there, and counted once.
            let metrics = try h.run(["metrics", "--window", "2h", "--json"])
            #expect(metrics.code == 0, "\(metrics.stderr)")
            let fast = (metrics.json["series"] as? [[String: Any]] ?? []).filter { $0["metric"] as? String == "check:fast" }
            #expect(fast.map { ($0["n"] as? NSNumber)?.intValue ?? -1 } == [300], "\(metrics.stdout)")
        }
    }

    // MARK: stopped process

    @Test func sigstopLongerThanTheWatchdogThenSigcontCatchesUpAndLosesNothing() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            try h.writeConfig(Self.config())
            try h.append("a.jsonl", Self.lines(0..<100))
            let listener = try NotifySocketListener(path: h.root + "/notify.sock")
            defer { listener.stop() }
            let daemon = try h.startDaemon(environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "1000000"])
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            #expect(h.waitUntil(timeout: 30) { (try? h.store().counters()["lines_read"]) == 100 })
            #expect(h.waitUntil(timeout: 20) { listener.count("WATCHDOG=1") >= 2 })

            kill(daemon.processIdentifier, SIGSTOP)
            // The writer goes on, and rotates, while evald is stopped for 3 watchdog intervals.
            try h.append("a.jsonl", Self.lines(100..<1000))
            try FileManager.default.moveItem(atPath: h.spool + "/a.jsonl", toPath: h.spool + "/a-1.jsonl")
            try h.append("a.jsonl", Self.lines(1000..<2000))
            usleep(3_000_000)
            let pingsWhileStopped = listener.count("WATCHDOG=1")
            kill(daemon.processIdentifier, SIGCONT)

            #expect(h.waitUntil(timeout: 60) { (try? h.store().counters()["lines_read"]) == 2000 }, "\(Self.log(h))")
            #expect(h.waitUntil(timeout: 20) { listener.count("WATCHDOG=1") > pingsWhileStopped + 1 }, "the watchdog pings resume")
            #expect(daemon.isRunning)
            try Self.expectEachTraceOnce(try h.store(), total: 2000)
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
        }
    }
}
