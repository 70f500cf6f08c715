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
}
