import EvaldCore
import EvaldDaemon
import EvaldStore
import Foundation
import Logging
import Synchronization
import Testing

/// When the scheduled report is queued: after its period's grace, once ingest has caught up,
/// once per period, and never for a period older than one already queued.
@Suite struct ReportScheduleServiceTests {
    let root = NSTemporaryDirectory() + "evald-report-\(UUID().uuidString)"

    func config(at: String) throws -> EvaldConfig {
        try EvaldConfig.parse(
            yaml: """
                spool: {dir: /var/spool/evald}
                alerts:
                  receivers:
                    - {name: hook, kind: webhook, url: "http://127.0.0.1:9/hook"}
                report: {every: 7d, at: "\(at)", receivers: [hook]}
                """, path: root + "/evald.yaml", environment: [:]
        ).0
    }

    @Test func queuedAfterTheGraceOnceCaughtUpOncePerPeriodAndNeverForAnOlderPeriod() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let store = try StateStore.open(path: root + "/evald.db")
        // Seen long before, so an empty period is still sent.
        _ = try store.reportScheduleFirstSeen(now: Date(timeIntervalSince1970: 1_790_000_000))
        let setups = SetupSource(DaemonSetup(config: try config(at: "Mon 09:00"), checks: .empty, roster: .empty, receivers: []))
        let clock = Mutex(try #require(RFC3339.parse("2026-11-30T09:00:30Z")))  // a Monday
        let caughtUp = Mutex(false)
        let service = ReportScheduleService(
            store: store, setups: setups, logger: Logger(label: "test"), now: { clock.withLock { $0 } },
            spoolCaughtUp: { caughtUp.withLock { $0 } })

        #expect(try service.queueDue() == 0, "30 s after the end: within the grace")
        clock.withLock { $0 += 60 }
        #expect(try service.queueDue() == 0, "ingest has not read the spool to its end")
        caughtUp.withLock { $0 = true }
        #expect(try service.queueDue() == 1)
        #expect(try service.queueDue() == 0, "once per period")
        #expect(try store.reportDeliveries().map(\.periodEnd) == [try #require(RFC3339.parse("2026-11-30T09:00:00Z"))])

        // At 09:30 the schedule moves to 10:00: its newest ended period (last Monday 10:00) is
        // older than the one just queued, so nothing is sent until this Monday's 10:00.
        clock.withLock { $0 = try! #require(RFC3339.parse("2026-11-30T09:30:00Z")) }
        setups.publish(config: try config(at: "Mon 10:00"), checks: .empty, roster: .empty, receivers: [])
        #expect(try service.queueDue() == 0)
        clock.withLock { $0 = try! #require(RFC3339.parse("2026-11-30T10:01:01Z")) }
        #expect(try service.queueDue() == 1)
        #expect(try store.reportDeliveries().count == 2)
    }
}
