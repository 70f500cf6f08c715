import EvaldHTTP
import Foundation
import Testing

/// `Retry-After`'s HTTP-date forms (RFC 9110 section 5.6.7), parsed by hand since the `time`
/// fuzz target found `DateFormatter` leaking on malformed values.
@Suite struct RetryAfterTests {
    /// 2026-11-28T10:00:00Z.
    let now = Date(timeIntervalSince1970: 1_795_860_000)
    /// RFC 9110's example instant, 1994-11-06T08:49:37Z.
    let example = Date(timeIntervalSince1970: 784_111_777)

    @Test func theThreeFormsOfOneInstant() {
        #expect(RetryAfter.httpDate("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == example)
        #expect(RetryAfter.httpDate("Sunday, 06-Nov-94 08:49:37 GMT", now: now) == example)
        #expect(RetryAfter.httpDate("Sun Nov  6 08:49:37 1994", now: now) == example)
        #expect(RetryAfter.httpDate("Sun Nov 06 08:49:37 1994", now: now) == example)
        #expect(RetryAfter.seconds("Sat, 28 Nov 2026 10:01:00 GMT", now: now) == 60)
    }

    @Test func rfc850TwoDigitYearsAreAtMost50YearsAhead() throws {
        // now is 2026: "75" is 2075 (49 years ahead), "77" would be 51 years ahead, so 1977.
        let in2075 = try #require(RetryAfter.httpDate("Tuesday, 01-Jan-75 00:00:00 GMT", now: now))
        #expect(in2075.timeIntervalSince1970 == 3_313_526_400)
        let in1977 = try #require(RetryAfter.httpDate("Saturday, 01-Jan-77 00:00:00 GMT", now: now))
        #expect(in1977.timeIntervalSince1970 == 220_924_800)
    }

    @Test func calendarLimits() {
        #expect(RetryAfter.httpDate("Tue, 29 Feb 2028 00:00:00 GMT", now: now)?.timeIntervalSince1970 == 1_835_395_200)
        #expect(RetryAfter.httpDate("Thu, 29 Feb 2027 00:00:00 GMT", now: now) == nil)
        #expect(RetryAfter.httpDate("Sun, 31 Apr 2026 00:00:00 GMT", now: now) == nil)
        #expect(RetryAfter.httpDate("Sun, 06 Nov 1994 24:00:00 GMT", now: now) == nil)
        #expect(RetryAfter.httpDate("Sun, 06 Nov 1994 08:60:00 GMT", now: now) == nil)
    }

    @Test func refusesWhatTheGrammarDoesNot() {
        for value in [
            "sun, 06 Nov 1994 08:49:37 GMT",  // names are case-sensitive
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",  // IMF-fixdate has two-digit days
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, +6 Nov 1994 08:49:37 GMT",
            "Sun, ٠٦ Nov 1994 08:49:37 GMT",  // Arabic-Indic digits
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun Nov 6 08:49:37",
            "soon",
        ] {
            #expect(RetryAfter.httpDate(value, now: now) == nil, "\(value)")
        }
    }

    /// What the `time` fuzz target found (Fuzz/work/artifacts/time-leak-251401b9…): with
    /// `DateFormatter`, this value leaked three allocations on each parse. It is no date.
    @Test func fuzzFindingLeakedInDateFormatter() {
        let bytes: [UInt8] = [
            0xf3, 0xf3, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xf3, 0xf3,
            0xf3, 0xf3, 0xf3, 0x30, 0x2e, 0x35, 0xf3, 0xf3, 0x00, 0x3a, 0x00,
        ]
        let value = String(decoding: bytes, as: UTF8.self)
        #expect(RetryAfter.seconds(value, now: now) == nil)
        #expect(RetryAfter.httpDate(value, now: now) == nil)
    }
}
