import EvaldTesting
import Foundation
import Testing

@testable import EvaldJudge

@Suite struct RetryPolicyTests {
    let now = Date(timeIntervalSince1970: 1_795_860_000)  // 2026-11-28T10:00:00Z
    let policy = RetryPolicy()

    @Test(arguments: [
        ("2", 2.0), ("0", 0), (" 7 ", 7), ("1.5", 1.5), ("119", 119), ("120", 120),
        ("3600", 120),  // capped at maxRetryAfter
    ])
    func retryAfterSeconds(header: String, expected: Double) {
        #expect(policy.delay(attempt: 1, retryAfter: header, now: now, random: 0.9) == expected)
    }

    @Test func retryAfterHTTPDates() {
        // IMF-fixdate, RFC 850 and asctime all name now + 30 s.
        for header in ["Sat, 28 Nov 2026 10:00:30 GMT", "Saturday, 28-Nov-26 10:00:30 GMT", "Sat Nov 28 10:00:30 2026"] {
            #expect(policy.delay(attempt: 1, retryAfter: header, now: now, random: 0.9) == 30, "\(header)")
        }
        #expect(policy.delay(attempt: 1, retryAfter: "Sat, 28 Nov 2026 09:59:00 GMT", now: now, random: 0.9) == 0)
        #expect(policy.delay(attempt: 1, retryAfter: "Sun, 29 Nov 2026 10:00:00 GMT", now: now, random: 0.9) == 120)
    }

    @Test(arguments: ["", "soon", "-3", "1e3", "Sat, 99 Nov 2026 10:00:30 GMT"])
    func unparseableRetryAfterFallsBackToBackoff(header: String) {
        #expect(policy.delay(attempt: 1, retryAfter: header, now: now, random: 0.5) == 0.25)
    }

    @Test(arguments: [
        (1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 16.0), (7, 30.0), (8, 30.0), (100, 30.0),
    ])
    func backoffCeilingDoublesUpToMaxDelay(attempt: Int, ceiling: Double) {
        #expect(policy.delay(attempt: attempt, retryAfter: nil, now: now, random: 0.999_999_999) <= ceiling)
        #expect(policy.delay(attempt: attempt, retryAfter: nil, now: now, random: 0.999_999_999) > ceiling * 0.999)
        #expect(policy.delay(attempt: attempt, retryAfter: nil, now: now, random: 0.5) == ceiling / 2)
        #expect(policy.delay(attempt: attempt, retryAfter: nil, now: now, random: 0) == 0)
    }

    @Test func fullJitterStaysWithinBounds() {
        var generator = SplitMix64(state: 1)
        var sum = 0.0
        for _ in 0..<1000 {
            let delay = policy.delay(attempt: 3, retryAfter: nil, now: now, random: Double.random(in: 0..<1, using: &generator))
            #expect(delay >= 0 && delay < 2)
            sum += delay
        }
        // Uniform on [0, 2): the mean is near 1.
        #expect(abs(sum / 1000 - 1) < 0.1)
    }

    @Test func outOfRangeDrawsAndPoliciesAreClamped() {
        #expect(policy.delay(attempt: 1, retryAfter: nil, now: now, random: 7) == 0.5)
        #expect(policy.delay(attempt: 1, retryAfter: nil, now: now, random: -1) == 0)
        #expect(policy.delay(attempt: 1, retryAfter: nil, now: now, random: .nan) == 0)
        #expect(policy.delay(attempt: 0, retryAfter: nil, now: now, random: 0.5) == 0.25)
        let custom = RetryPolicy(maxRetries: 1, baseDelay: 1, maxDelay: 3, maxRetryAfter: 10)
        #expect(custom.delay(attempt: 5, retryAfter: nil, now: now, random: 0.5) == 1.5)
        #expect(custom.delay(attempt: 1, retryAfter: "60", now: now, random: 0.5) == 10)
    }
}
