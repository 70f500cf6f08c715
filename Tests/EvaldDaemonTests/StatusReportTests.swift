import EvaldCore
import EvaldDaemon
import EvaldReports
import EvaldStore
import Foundation
import Testing

@Suite struct StatusReportTests {
    func config(_ root: String) throws -> EvaldConfig {
        try EvaldConfig.parse(yaml: "state_dir: \(root)/state\nspool: {dir: \(root)/spool}\n", path: root + "/evald.yaml", environment: [:]).0
    }

    @Test func reportsNeverRunWithoutADatabase() throws {
        let root = NSTemporaryDirectory() + "evald-status-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let report = try StatusReport.gather(config: config(root))
        #expect(!report.databaseExists)
        #expect(!report.daemon.running)
        #expect(report.text.contains("has not run"))
        #expect(!FileManager.default.fileExists(atPath: root + "/state/evald.db"))
    }

    @Test func staleOrStoppedHeartbeatIsNotRunningAndPendingBytesAreCounted() throws {
        let root = NSTemporaryDirectory() + "evald-status-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let config = try config(root)
        try FileManager.default.createDirectory(atPath: config.spool.dir, withIntermediateDirectories: true)
        try String(repeating: "x", count: 100).write(toFile: config.spool.dir + "/new.jsonl", atomically: true, encoding: .utf8)
        let store = try StateStore.open(path: config.databasePath)
        let now = Date()
        let pid = ProcessInfo.processInfo.processIdentifier
        let host = ProcessInfo.processInfo.hostName

        try store.recordHeartbeat(pid: pid, hostname: host, startedAt: now, at: now, version: "t")
        #expect(try StatusReport.gather(config: config, now: now + 1).daemon.running)
        #expect(try !StatusReport.gather(config: config, now: now + 600).daemon.running)
        try store.recordStop(pid: pid, at: now + 2)
        let stopped = try StatusReport.gather(config: config, now: now + 3)
        #expect(!stopped.daemon.running)
        #expect(stopped.bytesPending == 100)
        #expect(stopped.spoolFiles == 1)
        let json = stopped.json.serialized()
        #expect(json.contains(#""bytes_pending":100"#))
        #expect(json.contains(#""budget_left_tokens":null"#))
    }

    /// The text names the firing alerts, most severe first, with a regression's likely cause and
    /// the command to look closer; resolved ones are not named.
    @Test func namesFiringAlertsMostSevereFirst() throws {
        let root = NSTemporaryDirectory() + "evald-status-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let config = try config(root)
        let store = try StateStore.open(path: config.databasePath)
        let now = Date()
        func fire(_ name: String, _ severity: String, _ summary: String, _ extra: [String: String] = [:]) throws -> StoredAlert? {
            try store.fireAlert(
                AlertFiring(
                    name: name, severity: severity, labels: ["alertname": name, "route": "r"],
                    annotations: ["summary": summary].merging(extra) { $1 }, fingerprint: name),
                receivers: [], at: now)
        }
        let resolved = try #require(try fire("LatencyRegression", "warning", "slow calls"))
        try store.resolveAlert(id: resolved.id, receivers: [], at: now)
        _ = try fire("ProviderVersionChanged", "info", "version changed")
        let regression = try #require(try fire("QualityRegression", "critical", "pass rate dropped", ["version_switch": "a -> b"]))
        _ = try fire("ProviderDrift", "warning", "worse since the switch")
        let text = try StatusReport.gather(config: config, now: now).text
        let lines = text.split(separator: "\n").map(String.init)
        let first = try #require(lines.firstIndex { $0.hasPrefix("alerts:    3 firing") })
        #expect(lines[first + 1].contains("\(regression.publicID) QualityRegression (critical): pass rate dropped"))
        #expect(lines[first + 2].contains("likely cause: the provider version switch a -> b"))
        #expect(lines[first + 3].contains("ProviderDrift (warning)"))
        #expect(lines[first + 4].contains("ProviderVersionChanged (info)"))
        #expect(lines[first + 5].contains("next: evald explain \(regression.publicID)"))
        #expect(!text.contains("slow calls"))
    }
}
