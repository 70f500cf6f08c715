import EvaldCore
import EvaldDaemon
import EvaldStore
import EvaldTesting
import Foundation
import Logging
import Testing

@Suite struct HealthAlertServiceTests {
    let root = NSTemporaryDirectory() + "evald-health-\(UUID().uuidString)"

    func config() throws -> EvaldConfig {
        try EvaldConfig.parse(
            yaml: """
                spool: {dir: /var/spool/evald}
                endpoints:
                  default: {kind: openai, base_url: http://127.0.0.1:1/v1, model: m, daily_token_budget: 1000}
                alerts:
                  spool_stalled_after: 10m
                  runbook_url: https://wiki.example.com/evald/{{alertname}}
                """, path: root + "/evald.yaml", environment: [:]
        ).0
    }

    func lines(_ n: Int64) -> IngestCounts {
        var counts = IngestCounts()
        counts.linesRead = n
        return counts
    }

    @Test func spoolStalledFiresAfterTheQuietPeriodWithBytesWaitingAndResolvesOnProgress() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try StateStore.open(path: root + "/evald.db")
        let clock = ManualClock()
        let runtime = DaemonRuntime()
        runtime.markProgress(lines(10), pendingBytes: 5000, at: clock.now)
        let service = HealthAlertService(
            store: store, setups: SetupSource(DaemonSetup(config: try config(), checks: .empty, roster: .empty, receivers: [])), runtime: runtime,
            logger: Logger(label: "test"),
            now: { clock.now })
        clock.advance(9 * 60)
        try service.evaluate()
        #expect(try store.alerts(includeResolved: true).isEmpty)

        clock.advance(2 * 60)
        try service.evaluate()
        try service.evaluate()  // the same condition is the same alert
        let firing = try store.alerts(includeResolved: false)
        #expect(firing.map(\.name) == ["SpoolStalled"])
        #expect(firing.first?.labels["severity"] == "critical")
        #expect(firing.first?.annotations["runbook_url"] == "https://wiki.example.com/evald/SpoolStalled")
        #expect(try store.alertTransitions(id: firing[0].id).first?.numbers["pending_bytes"] == 5000)

        runtime.markProgress(lines(1), pendingBytes: 0, at: clock.now)
        try service.evaluate()
        #expect(try store.alerts(includeResolved: false).isEmpty)
        #expect(try store.alerts(includeResolved: true).first?.state == "resolved")
    }

    @Test func stateStoreFailingFiresWhenTheDatabaseStaysOverItsLimitAndResolvesUnderIt() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try StateStore.open(path: root + "/evald.db")
        let clock = ManualClock()
        let runtime = DaemonRuntime()
        runtime.markProgress(lines(1), pendingBytes: 0, at: clock.now)
        let service = HealthAlertService(
            store: store, setups: SetupSource(DaemonSetup(config: try config(), checks: .empty, roster: .empty, receivers: [])), runtime: runtime,
            logger: Logger(label: "test"), now: { clock.now })
        let over = RetentionService.SizeCheck(fileBytes: 3_000_000, limit: 2_000_000, overLimit: true)
        runtime.setSizeCheck(over, at: clock.now)
        try service.evaluate()
        // A moment over the limit (a burst, a detection backlog) is not a failure.
        #expect(try store.alerts(includeResolved: true).isEmpty)
        clock.advance(30)
        runtime.setSizeCheck(over, at: clock.now)
        clock.advance(31)
        try service.evaluate()
        let firing = try store.alerts(includeResolved: false)
        #expect(firing.map(\.name) == ["StateStoreFailing"])
        #expect(firing.first?.severity == "warning")
        #expect(firing.first?.labels["state_db"] == root + "/evald.db")
        #expect(try store.alertTransitions(id: firing[0].id).first?.numbers == ["db_bytes": 3_000_000, "max_db_bytes": 2_000_000])

        runtime.setSizeCheck(RetentionService.SizeCheck(fileBytes: 1_700_000, limit: 2_000_000, overLimit: false), at: clock.now)
        try service.evaluate()
        #expect(try store.alerts(includeResolved: false).isEmpty)
    }

    @Test func judgeStatesBecomeJudgeFailingAndJudgeBudgetExhausted() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try StateStore.open(path: root + "/evald.db")
        let clock = ManualClock()
        let runtime = DaemonRuntime()
        runtime.markProgress(IngestCounts(), pendingBytes: 0, at: clock.now)
        let service = HealthAlertService(
            store: store, setups: SetupSource(DaemonSetup(config: try config(), checks: .empty, roster: .empty, receivers: [])), runtime: runtime,
            logger: Logger(label: "test"),
            now: { clock.now })
        runtime.setJudgeStates([
            JudgeHealth(
                judgeName: "helpfulness", identity: "helpfulness@1+aaaa0000", endpoint: "default",
                state: .paused(.circuitOpen(endpoint: "default", until: clock.now + 30)), updatedAt: clock.now),
            JudgeHealth(
                judgeName: "tone", identity: "tone@1+bbbb0000", endpoint: "default",
                state: .paused(.budgetSpent(endpoint: "default", dailyTokenBudget: 1000)), updatedAt: clock.now),
        ])
        try service.evaluate()
        let names = try store.alerts(includeResolved: false).map(\.name).sorted()
        #expect(names == ["JudgeBudgetExhausted", "JudgeFailing"])
        #expect(try store.alerts(includeResolved: false).first { $0.name == "JudgeFailing" }?.labels["metric"] == "judge:helpfulness")

        runtime.setJudgeStates([])
        try service.evaluate()
        #expect(try store.alerts(includeResolved: false).isEmpty)
    }
}
