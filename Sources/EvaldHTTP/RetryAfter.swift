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
        guard let date = httpDate(text) else { return nil }
        return date.timeIntervalSince(now)
    }

    /// IMF-fixdate, and the obsolete RFC 850 and asctime forms recipients must accept
    /// (RFC 9110 section 5.6.7).
    public static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        for format in ["EEE, dd MMM yyyy HH:mm:ss 'GMT'", "EEEE, dd-MMM-yy HH:mm:ss 'GMT'", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
