import Foundation

/// Reads `Retry-After` (RFC 9110 section 10.2.3): delay-seconds, or an HTTP-date. Shared by
/// the judge clients and the alert receivers, which both honour it.
public enum RetryAfter {
    /// Seconds from `now` that the value asks for, or nil when it is neither delay-seconds
    /// nor an HTTP-date. A date in the past gives a negative number.
    public static func seconds(_ value: String, now: Date) -> Double? {
        let text = value.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return nil }
        // delay-seconds is 1*DIGIT; a fraction is accepted because some gateways send one.
        if text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) {
            guard let seconds = Double(text), seconds.isFinite else { return nil }
            return seconds
        }
        guard let date = httpDate(text, now: now) else { return nil }
        return date.timeIntervalSince(now)
    }

    /// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), and the obsolete RFC 850 ("Sunday,
    /// 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994") forms recipients must
    /// accept (RFC 9110 section 5.6.7); names are case-sensitive, as the grammar says. Parsed by
    /// hand, not with `DateFormatter`: the grammar is fixed, and swift-corelibs-foundation's
    /// `DateFormatter.date(from:)` leaked memory on some malformed values (the `time` fuzz
    /// target found it) and builds an ICU formatter on every call. `now` settles RFC 850's
    /// two-digit year: one more than 50 years ahead is the most recent such year in the past.
    public static func httpDate(_ text: String, now: Date) -> Date? {
        let fields = text.split(separator: " ")
        let day: Int, month: Int, year: Int, time: Substring
        switch fields.count {
        case 6:  // IMF-fixdate: day-name "," SP 2DIGIT SP month SP 4DIGIT SP time SP "GMT"
            guard fields[0].count == 4, fields[0].last == ",", shortDays.contains(String(fields[0].dropLast())),
                fields[1].count == 2, let d = number(fields[1]), let m = months.firstIndex(of: String(fields[2])),
                fields[3].count == 4, let y = number(fields[3]), fields[5] == "GMT"
            else { return nil }
            (day, month, year, time) = (d, m + 1, y, fields[4])
        case 4:  // RFC 850: day-name-l "," SP 2DIGIT "-" month "-" 2DIGIT SP time SP "GMT"
            let date = fields[1].split(separator: "-", omittingEmptySubsequences: false)
            guard fields[0].last == ",", longDays.contains(String(fields[0].dropLast())), date.count == 3,
                date[0].count == 2, let d = number(date[0]), let m = months.firstIndex(of: String(date[1])),
                date[2].count == 2, let yy = number(date[2]), fields[3] == "GMT"
            else { return nil }
            let thisYear = civil(Int((now.timeIntervalSince1970 / 86_400).rounded(.down))).year
            var y = thisYear - thisYear % 100 + yy
            if y > thisYear + 50 { y -= 100 }
            (day, month, year, time) = (d, m + 1, y, fields[2])
        case 5:  // asctime: day-name SP month SP ( 2DIGIT / ( SP 1DIGIT ) ) SP time SP 4DIGIT
            guard shortDays.contains(String(fields[0])), let m = months.firstIndex(of: String(fields[1])),
                (1...2).contains(fields[2].count), let d = number(fields[2]), fields[4].count == 4, let y = number(fields[4])
            else { return nil }
            (day, month, year, time) = (d, m + 1, y, fields[3])
        default:
            return nil
        }
        let clock = time.split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, clock.allSatisfy({ $0.count == 2 }), let hour = number(clock[0]), let minute = number(clock[1]),
            let second = number(clock[2]), hour < 24, minute < 60, second <= 60,
            (1...daysIn(month: month, year: year)).contains(day)
        else { return nil }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        return Date(timeIntervalSince1970: Double(days * 86_400 + hour * 3600 + minute * 60 + second))
    }

    private static let shortDays: Set<String> = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    private static let longDays: Set<String> = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// ASCII digits only (`Int("+5")` and `Int("٥")` would not do), at most 4 of them.
    private static func number(_ digits: Substring) -> Int? {
        guard !digits.isEmpty, digits.count <= 4, digits.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Int(digits)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil).
    private static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The civil date of a day count from 1970-01-01 (H. Hinnant's civil_from_days).
    private static func civil(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, dayOfYear - (153 * mp + 2) / 5 + 1)
    }
}
