import Foundation

/// A strict RFC 3339 timestamp parser (`2026-11-28T10:00:00.123Z`, `...+02:00`).
/// Hand-written because it runs for every sampled record and Foundation's formatters
/// are slow and locale-sensitive.
public enum RFC3339 {
    public static func parse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { seconds(utf8: UnsafeRawBufferPointer($0)) }.map(Date.init(timeIntervalSince1970:))
    }

    /// Unix seconds of an RFC 3339 timestamp given as its UTF-8 bytes (no quotes), nil when it is
    /// not one. The usage scan reads every spool line's timestamp, so this makes no String.
    public static func seconds(utf8 b: UnsafeRawBufferPointer) -> Double? {
        guard b.count >= 20 else { return nil }
        @inline(__always) func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var value = 0
            for i in from..<(from + count) {
                let d = Int(b[i]) - 48
                guard d >= 0, d <= 9 else { return nil }
                value = value * 10 + d
            }
            return value
        }
        guard let year = digits(0, 4), b[4] == 45, let month = digits(5, 2), b[7] == 45,
            let day = digits(8, 2), b[10] == 84 || b[10] == 116 || b[10] == 32,
            let hour = digits(11, 2), b[13] == 58, let minute = digits(14, 2), b[16] == 58,
            let second = digits(17, 2)
        else { return nil }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60 else { return nil }
        var index = 19
        var fraction = 0.0
        if index < b.count, b[index] == 46 {
            index += 1
            var digitsValue = 0.0
            var scale = 1.0
            let start = index
            while index < b.count, b[index] >= 48, b[index] <= 57 {
                if index - start < 9 {
                    digitsValue = digitsValue * 10 + Double(b[index] - 48)
                    scale *= 10
                }
                index += 1
            }
            fraction = digitsValue / scale
            guard index > start else { return nil }
        }
        guard index < b.count else { return nil }
        var offsetSeconds = 0
        switch b[index] {
        case 90, 122:  // Z, z
            index += 1
        case 43, 45:  // + -
            guard let oh = digits(index + 1, 2), b.count > index + 3, b[index + 3] == 58,
                let om = digits(index + 4, 2)
            else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (b[index] == 43 ? 1 : -1)
            index += 6
        default:
            return nil
        }
        guard index == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return Double(days * 86400 + hour * 3600 + minute * 60 + second - offsetSeconds) + fraction
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// `2026-11-28T10:00:00.123Z` (milliseconds, UTC).
    public static func format(_ date: Date, fractional: Bool = true) -> String {
        let total = date.timeIntervalSince1970
        var seconds = Int(total.rounded(.down))
        var millis = Int(((total - Double(seconds)) * 1000).rounded())
        if millis == 1000 { seconds += 1; millis = 0 }
        var days = seconds / 86400
        var rest = seconds % 86400
        if rest < 0 { rest += 86400; days -= 1 }
        let (y, m, d) = civilFromDays(days)
        func pad(_ v: Int, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        var text = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(rest / 3600, 2)):\(pad(rest % 3600 / 60, 2)):\(pad(rest % 60, 2))"
        if fractional { text += ".\(pad(millis, 3))" }
        return text + "Z"
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
