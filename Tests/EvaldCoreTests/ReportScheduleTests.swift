import EvaldCore
import Foundation
import Testing

/// When `report:` is due and which period it covers.
@Suite struct ReportScheduleTests {
    func date(_ text: String) throws -> Date { try #require(RFC3339.parse(text)) }

    func schedule(_ yaml: String) throws -> ReportSchedule {
        let config = try parseConfig(
            """
            spool: {dir: /s}
            alerts:
              receivers:
                - {name: hook, kind: webhook, url: "http://127.0.0.1:9/hook"}
            report: \(yaml)
            """)
        return try #require(config.usage.report)
    }

    @Test func weeklyOnMondayMorning() throws {
        let weekly = try schedule("{every: 7d, at: \"Mon 09:00\", receivers: [hook]}")
        // Thursday 2026-12-03: the period ended on Monday 2026-11-30 at 09:00.
        let period = weekly.latestPeriod(endingBy: try date("2026-12-03T15:00:00Z"))
        #expect(period.end == (try date("2026-11-30T09:00:00Z")))
        #expect(period.start == (try date("2026-11-23T09:00:00Z")))
        // Monday 08:59 is still the week before; 09:00 is the new period's end.
        #expect(weekly.latestPeriod(endingBy: try date("2026-11-30T08:59:59Z")).end == (try date("2026-11-23T09:00:00Z")))
        #expect(weekly.latestPeriod(endingBy: try date("2026-11-30T09:00:00Z")).end == (try date("2026-11-30T09:00:00Z")))
    }

    @Test func dailyInAZoneKeepsItsHourAcrossDaylightSaving() throws {
        let daily = try schedule("{every: 1d, at: \"09:00\", timezone: Europe/Berlin, receivers: [hook]}")
        // Berlin left summer time on 2026-10-25: 09:00 was 07:00Z before and 08:00Z after.
        let after = daily.latestPeriod(endingBy: try date("2026-10-25T12:00:00Z"))
        #expect(after.end == (try date("2026-10-25T08:00:00Z")))
        #expect(after.start == (try date("2026-10-24T07:00:00Z")))
        #expect(after.end.timeIntervalSince(after.start) == 25 * 3600)
    }

    @Test func fortnightlyPeriodsAreTheSameWhenAskedAnyDay() throws {
        let fortnightly = try schedule("{every: 14d, at: \"Mon 09:00\", receivers: [hook]}")
        let ends = try (0..<28).map { day in
            fortnightly.latestPeriod(endingBy: try date("2026-11-02T10:00:00Z") + Double(day) * 86400).end
        }
        // Two distinct ends over four weeks, two weeks apart, both Mondays at 09:00.
        let distinct = Set(ends).sorted()
        #expect(distinct.count == 2 || distinct.count == 3)
        for (a, b) in zip(distinct, distinct.dropFirst()) { #expect(b.timeIntervalSince(a) == 14 * 86400) }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for end in distinct { #expect(calendar.component(.weekday, from: end) == 2 && calendar.component(.hour, from: end) == 9) }
    }

    @Test func hourlyPeriodsEndAtTheMinuteNamed() throws {
        let hourly = try schedule("{every: 1h, at: \"00:15\", receivers: [hook]}")
        let period = hourly.latestPeriod(endingBy: try date("2026-12-05T10:14:00Z"))
        #expect(period.end == (try date("2026-12-05T09:15:00Z")))
        #expect(period.start == (try date("2026-12-05T08:15:00Z")))
    }

    @Test func checkConfigRefusesWhatCannotBeScheduledOrSent() {
        let env = ["PD_KEY": "pd-routing-key"]
        let base = """
            spool: {dir: /s}
            alerts:
              receivers:
                - {name: hook, kind: webhook, url: "http://127.0.0.1:9/hook"}
                - {name: pager, kind: pagerduty, routing_key_env: PD_KEY}
            """
        let weekday = configProblems(base + "\nreport: {every: 3d, at: \"Mon 09:00\", receivers: [hook]}\n", env: env)
        #expect(weekday.contains { $0.key == "report.every" && $0.message.contains("whole number of weeks") })
        let pager = configProblems(base + "\nreport: {every: 7d, receivers: [pager]}\n", env: env)
        #expect(pager.contains { $0.key == "report.receivers[0]" && $0.message.contains("takes alerts, not reports") })
        let short = configProblems(base + "\nreport: {every: 30m, receivers: [hook]}\n", env: env)
        #expect(short.contains { $0.key == "report.every" && $0.message.contains("at least 1h") })
        #expect(configProblems(base + "\nreport: {every: 7d, receivers: [hook]}\n", env: env).isEmpty)
    }
}
