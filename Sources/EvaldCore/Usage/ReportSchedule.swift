import Foundation

/// `report: {every, at, timezone, receivers}` (SPEC 7b): when the scheduled report is due and
/// which period it covers. A period ends at `at` in `timeZone`; whole-day schedules step by
/// calendar days, so a daylight-saving change never moves the hour the report arrives.
public struct ReportSchedule: Sendable, Equatable {
    public var every: Double
    /// `Mon 09:00`: weekday (optional) and time of day at which a period ends.
    public var weekday: Int?
    public var minuteOfDay: Int
    public var timeZone: TimeZone
    public var receivers: [String]

    public init(every: Double, weekday: Int?, minuteOfDay: Int, timeZone: TimeZone, receivers: [String]) {
        self.every = every
        self.weekday = weekday
        self.minuteOfDay = minuteOfDay
        self.timeZone = timeZone
        self.receivers = receivers
    }

    /// Parses `Mon 09:00`, `09:00` (weekday 1 = Sunday ... 7 = Saturday, as Calendar counts).
    public static func parseAt(_ text: String) -> (weekday: Int?, minuteOfDay: Int)? {
        let parts = text.split(separator: " ").map(String.init)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        var weekday: Int?
        if parts.count == 2 {
            let names = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
            guard let index = names.firstIndex(of: String(parts[0].lowercased().prefix(3))) else { return nil }
            weekday = index + 1
        }
        let time = parts.last!.split(separator: ":")
        guard time.count == 2, let hour = Int(time[0]), let minute = Int(time[1]), (0..<24).contains(hour), (0..<60).contains(minute) else { return nil }
        return (weekday, hour * 60 + minute)
    }

    /// Why `every` cannot be kept, for `check-config` (said of `report.every`); nil when it can.
    public var problem: String? {
        if every < 3600 { return "must be at least 1h" }
        if weekday != nil, !stepsInWeeks {
            return "must be a whole number of weeks (7d, 14d, ...) when report.at names a weekday; or write at: \"09:00\""
        }
        if every.truncatingRemainder(dividingBy: 3600) != 0 { return "must be a whole number of hours" }
        return nil
    }

    private var stepsInDays: Bool { every.truncatingRemainder(dividingBy: 86400) == 0 }
    private var stepsInWeeks: Bool { every.truncatingRemainder(dividingBy: 7 * 86400) == 0 }

    /// The newest period that has ended at `now`: the report due then covers `[start, end)`.
    public func latestPeriod(endingBy now: Date) -> (start: Date, end: Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        // Periods are counted from a fixed Monday, so every 14d (or 3d) picks the same days on
        // every machine and after every restart.
        let reference = calendar.date(from: DateComponents(year: 2001, month: 1, day: 1))!
        guard stepsInDays else {
            let first = reference.timeIntervalSince1970 + Double(minuteOfDay * 60)
            let k = ((now.timeIntervalSince1970 - first) / every).rounded(.down)
            let end = Date(timeIntervalSince1970: first + k * every)
            return (end - every, end)
        }
        let stride = Int(every / 86400)
        func ending(on day: Date) -> Date {
            calendar.date(bySettingHour: minuteOfDay / 60, minute: minuteOfDay % 60, second: 0, of: day) ?? day + Double(minuteOfDay * 60)
        }
        func aligned(_ day: Date) -> Bool {
            let index = calendar.dateComponents([.day], from: reference, to: day).day ?? 0
            if let weekday {
                return calendar.component(.weekday, from: day) == weekday && (index / 7) % (stride / 7) == 0
            }
            return index % stride == 0
        }
        var day = calendar.startOfDay(for: now)
        // At most one period and a week back: the newest aligned day whose end has passed.
        for _ in 0...(stride + 8) {
            if aligned(day), ending(on: day) <= now {
                let end = ending(on: day)
                let startDay = calendar.date(byAdding: .day, value: -stride, to: day) ?? day - every
                return (ending(on: startDay), end)
            }
            day = calendar.date(byAdding: .day, value: -1, to: day) ?? day - 86400
        }
        let end = ending(on: day)
        return (end - every, end)
    }
}
