import EvaldHTTP
import Testing

@testable import EvaldAlerting

@Suite struct ResponseBodyExcerptTests {
    @Test func redactsSecretsAndKeepsOneShortLine() {
        let body = Array("error:\n  key SECRET-1 is\tinvalid; url https://x/SECRET-2\n".utf8)
        #expect(
            ResponseBodyExcerpt.make(body, secrets: ["SECRET-1", "https://x/SECRET-2"])
                == "error: key <redacted> is invalid; url <redacted>")
    }

    @Test func cutsAt200Characters() {
        let excerpt = ResponseBodyExcerpt.make(Array(String(repeating: "a", count: 5000).utf8), secrets: [])
        #expect(excerpt.count == 201)
        #expect(excerpt.hasSuffix("…"))
    }

    @Test func retryAfterForms() {
        let now = alertStart
        #expect(RetryAfter.seconds("120", now: now).map { max(0, $0) } == 120)
        #expect(RetryAfter.seconds(" 1.5 ", now: now).map { max(0, $0) } == 1.5)
        #expect(RetryAfter.seconds("Sat, 28 Nov 2026 10:01:00 GMT", now: now).map { max(0, $0) } == 60)
        #expect(RetryAfter.seconds("Fri, 27 Nov 2026 10:01:00 GMT", now: now).map { max(0, $0) } == 0)
        #expect(RetryAfter.seconds("soon", now: now).map { max(0, $0) } == nil)
        #expect(RetryAfter.seconds("", now: now).map { max(0, $0) } == nil)
    }

    @Test func truncationNeverSplitsACharacter() {
        #expect(TextLimit.truncate("short", maxUTF16: 10) == "short")
        #expect(TextLimit.truncate("abcdefghij", maxUTF16: 5) == "abcd…")
        let flags = String(repeating: "🇫🇷", count: 10)  // 4 UTF-16 units each
        let cut = TextLimit.truncate(flags, maxUTF16: 10)
        #expect(cut == "🇫🇷🇫🇷…")
        #expect(cut.utf16.count <= 10)
    }
}
