import Foundation

/// Calendar days (`2026-11-28`) and months (`2026-11`) of trace time in the budgets' time zone.
/// Every call asks, so the current day's bounds are kept and the calendar is consulted only
/// when a call falls outside them.
public struct UsageCalendar: Sendable {
    public let timeZone: TimeZone
    private var dayStart = 0.0
    private var dayEnd = -1.0
    private var dayText = ""

    public init(timeZone: TimeZone) { self.timeZone = timeZone }

    public mutating func day(_ seconds: Double) -> String {
        if seconds >= dayStart, seconds < dayEnd { return dayText }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let date = Date(timeIntervalSince1970: seconds)
        let start = calendar.startOfDay(for: date)
        let end = calendar.date(byAdding: .day, value: 1, to: start) ?? start.addingTimeInterval(86400)
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        dayStart = start.timeIntervalSince1970
        dayEnd = end.timeIntervalSince1970
        dayText = Self.dayText(year: parts.year ?? 1970, month: parts.month ?? 1, day: parts.day ?? 1)
        return dayText
    }

    /// `day(seconds)` with the day's bounds `[start, end)`: a caller keeping them need not ask
    /// again for a time inside.
    public mutating func dayWithBounds(_ seconds: Double) -> (text: String, start: Double, end: Double) {
        let text = day(seconds)
        return (text, dayStart, dayEnd)
    }

    static func dayText(year: Int, month: Int, day: Int) -> String {
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    /// The `[start, end)` of the day or month containing `seconds`, as Unix seconds, and the
    /// first and last day texts.
    public func period(_ period: BudgetRule.Period, containing seconds: Double) -> (start: Double, end: Double, firstDay: String, lastDay: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let date = Date(timeIntervalSince1970: seconds)
        let start: Date
        let end: Date
        switch period {
        case .daily:
            start = calendar.startOfDay(for: date)
            end = calendar.date(byAdding: .day, value: 1, to: start)!
        case .monthly:
            start = calendar.date(from: calendar.dateComponents([.year, .month], from: date))!
            end = calendar.date(byAdding: .month, value: 1, to: start)!
        }
        var copy = self
        let first = copy.day(start.timeIntervalSince1970)
        let last = copy.day(end.timeIntervalSince1970 - 1)
        return (start.timeIntervalSince1970, end.timeIntervalSince1970, first, last)
    }
}
