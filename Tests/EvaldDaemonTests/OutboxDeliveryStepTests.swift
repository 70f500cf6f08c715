import EvaldCore
import EvaldDaemon
import EvaldTesting
import Foundation
import GRDB
import Logging
import Testing

@testable import EvaldStore

/// The one delivery step both outboxes share, on scheduled reports: a row this version cannot
/// read is given up (not left pending), a receiver that refuses is given up, one that fails is
/// retried; each outcome is counted per receiver on /metrics and in the database.
@Suite struct OutboxDeliveryStepTests {
    let root = NSTemporaryDirectory() + "evald-outbox-step-\(UUID().uuidString)"

    static func report(periodEnd: Date) -> ScheduledReport {
        ScheduledReport(
            periodStart: periodEnd - 86400, periodEnd: periodEnd, title: "Usage report", json: #"{"totals":{"calls":1}}"#,
            markdown: "# Usage report", headline: [.init("Calls", "1")], topLists: [])
    }

    @Test func reportsAreSentRetriedOrGivenUpAndCountedPerReceiver() async throws {
        try await onTestThreads {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: root) }
            try await withStubServer(StubHTTPServer.goodFlakyRefused) { hooks, transport in
                let names = ["good", "flaky", "refused"]
                let yaml =
                    "spool: {dir: spool}\nalerts:\n  max_backoff: 1s\n  receivers:\n"
                    + names.map { "    - {name: \($0), kind: webhook, url: \"\(hooks.baseURL)/\($0)\"}\n" }.joined()
                let config = try EvaldConfig.parse(yaml: yaml, path: root + "/evald.yaml", environment: [:]).0
                let store = try StateStore.open(path: root + "/evald.db")
                let setups = SetupSource(
                    DaemonSetup(
                        config: config, checks: .empty, roster: .empty, receivers: try Daemon.makeReceivers(config, transport: transport)))
                let now = Date()
                let older = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600 - 86400)
                try store.enqueueReport(Self.report(periodEnd: older), receivers: ["good"], now: now)
                try store.enqueueReport(Self.report(periodEnd: older + 86400), receivers: names, now: now)
                // The older period's row as another version of evald might have stored it.
                try store.write { db in
                    try db.execute(
                        sql: "UPDATE report_outbox SET report_json = '{\"v\":99}' WHERE period_end = ?",
                        arguments: [older.timeIntervalSince1970])
                }
                let runtime = DaemonRuntime()
                let delivery = AlertDeliveryService(
                    store: store, setups: setups, runtime: runtime, logger: Logger(label: "test"), now: { now }, random: { 0.5 })

                let round = await delivery.drain(timeout: 0)
                #expect(round.sent == 1 && round.gaveUp == 2 && round.stillPending == 1)
                let states = Dictionary(
                    try store.reportDeliveries().map { ("\($0.receiver)@\(Int($0.periodEnd.timeIntervalSince1970))", $0.state) },
                    uniquingKeysWith: { a, _ in a })
                let newest = Int(older.timeIntervalSince1970) + 86400
                #expect(states["good@\(Int(older.timeIntervalSince1970))"] == .givenUp)
                #expect(states["good@\(newest)"] == .sent)
                #expect(states["flaky@\(newest)"] == .pending)
                #expect(states["refused@\(newest)"] == .givenUp)
                // The unreadable row was never sent: one request per readable row.
                #expect(hooks.requests.map(\.path).sorted() == ["/flaky", "/good", "/refused"])
                let counters = try store.counters()
                #expect(counters["reports_sent"] == 1 && counters["reports_given_up"] == 2 && counters["reports_retried"] == 1)

                let scrape = runtime.metrics.render(status: nil)
                for line in [
                    #"evald_reports_sent_total{receiver="good"} 1"#, #"evald_reports_given_up_total{receiver="good"} 1"#,
                    #"evald_reports_retried_total{receiver="flaky"} 1"#, #"evald_reports_given_up_total{receiver="refused"} 1"#,
                    "evald_notifications_failed_total 0",
                ] {
                    #expect(scrape.contains(line + "\n"), "\(line)\n\(scrape)")
                }
            }
        }
    }
}
