import EvaldCore
import EvaldStore
import Foundation
import Testing

@Suite struct AlertOutboxStoreTests {
    let root = NSTemporaryDirectory() + "evald-alerts-\(UUID().uuidString)"
    var dbPath: String { root + "/state/evald.db" }
    let t0 = Date(timeIntervalSince1970: 1_795_860_000)

    func firing(_ fingerprint: String = "fp1") -> AlertFiring {
        AlertFiring(
            name: "JudgeFailing", severity: "warning", labels: ["alertname": "JudgeFailing", "metric": "judge:helpfulness"],
            annotations: ["summary": "judge failing"], fingerprint: fingerprint, numbers: ["error_rate": 0.5, "n": 20], examples: [7, 3])
    }

    @Test func aStateChangeIsStoredWithOneNotificationPerReceiverAndDeliveredInOrder() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try StateStore.open(path: dbPath)
        let alert = try #require(try store.fireAlert(firing(), receivers: ["am", "hook"], at: t0))
        #expect(alert.publicID == "a-1")
        // The same labels while firing are the same alert: nothing new to send.
        #expect(try store.fireAlert(firing(), receivers: ["am", "hook"], at: t0 + 1) == nil)
        #expect(try store.alertExamples(id: alert.id) == [3, 7])
        #expect(try store.alertTransitions(id: alert.id).map(\.numbers) == [["error_rate": 0.5, "n": 20]])

        #expect(try store.resolveAlert(id: alert.id, receivers: ["am", "hook"], numbers: ["error_rate": 0], at: t0 + 60))
        #expect(try store.resolveAlert(id: alert.id, receivers: ["am", "hook"], at: t0 + 61) == false)
        // "resolved" waits for the "firing" before it, per receiver.
        let due = try store.dueNotifications(now: t0 + 60, limit: 10)
        #expect(due.map(\.event) == ["firing", "firing"])
        #expect(try store.markOutboxSent(.notification, id: due[0].id, at: t0 + 61))
        #expect(try store.markOutboxSent(.notification, id: due[0].id, at: t0 + 62) == false)
        #expect(try store.outboxPending(.notification, id: due[0].id) == false)
        let next = try store.dueNotifications(now: t0 + 61, limit: 10)
        #expect(next.map { "\($0.receiver):\($0.event)" } == ["hook:firing", "am:resolved"])
        #expect(try store.counters()["notifications_sent"] == 1)
        #expect(try store.firingAlertCount() == 0)
        // A new episode of the same labels is a new alert.
        #expect(try store.fireAlert(firing(), receivers: ["am"], at: t0 + 120)?.publicID == "a-2")
    }

    @Test func failedDeliveriesWaitForTheirRetryAndGiveUpWithACount() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try StateStore.open(path: dbPath)
        let alert = try #require(try store.fireAlert(firing(), receivers: ["hook"], at: t0))
        let entry = try #require(try store.dueNotifications(now: t0, limit: 1).first)
        try store.retryOutbox(.notification, id: entry.id, at: t0 + 30, error: "http 500")
        #expect(try store.dueNotifications(now: t0 + 29, limit: 1).isEmpty)
        #expect(try store.dueNotifications(now: t0 + 30, limit: 1).first?.attempts == 1)
        try store.giveUpOutbox(.notification, id: entry.id, at: t0 + 31, error: "older than max_age")
        #expect(try store.dueNotifications(now: t0 + 100, limit: 1).isEmpty)
        let counters = try store.counters()
        #expect(counters["notifications_failed"] == 2 && counters["notifications_given_up"] == 1)
        #expect(try store.notifications(alertID: alert.id).first?.lastError == "older than max_age")
    }

    @Test func repeatsAreQueuedOnlyAfterTheIntervalAndNeverPileUp() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try StateStore.open(path: dbPath)
        _ = try store.fireAlert(firing(), receivers: ["am", "hook"], at: t0)
        let receivers = [
            StateStore.RepeatSchedule(receiver: "am", interval: 60, severities: ["warning", "critical"]),
            StateStore.RepeatSchedule(receiver: "hook", interval: 4 * 3600, severities: ["warning", "critical"]),
        ]
        // Nothing sent yet: the pending firing notification is the one to wait for.
        #expect(try store.enqueueRepeats(receivers, now: t0 + 120) == 0)
        for entry in try store.dueNotifications(now: t0, limit: 10) { try store.markOutboxSent(.notification, id: entry.id, at: t0 + 1) }
        #expect(try store.enqueueRepeats(receivers, now: t0 + 30) == 0)
        #expect(try store.enqueueRepeats(receivers, now: t0 + 61) == 1)
        #expect(try store.enqueueRepeats(receivers, now: t0 + 200) == 0)
        #expect(try store.dueNotifications(now: t0 + 61, limit: 10).map { "\($0.receiver):\($0.event)" } == ["am:repeat"])
        // A receiver added while the alert fires hears of it; one whose min_severity is above it does not.
        let added = [
            StateStore.RepeatSchedule(receiver: "pager", interval: 4 * 3600, severities: ["critical"]),
            StateStore.RepeatSchedule(receiver: "chat", interval: 4 * 3600, severities: ["info", "warning", "critical"]),
        ]
        #expect(try store.enqueueRepeats(added, now: t0 + 62) == 1)
        #expect(try store.dueNotifications(now: t0 + 62, limit: 10).map { "\($0.receiver):\($0.event)" } == ["am:repeat", "chat:repeat"])
    }
}
