import EvaldCore
import Testing

/// What a reply should parse to: a verdict, or the kind of judge_error.
enum ExpectedVerdict: Sendable, CustomStringConvertible {
    case score(Double, passed: Bool, reason: String?)
    case error(JudgeReplyError.Kind)

    var description: String {
        switch self {
        case .score(let score, let passed, let reason): return "score \(score) passed \(passed) reason \(reason ?? "nil")"
        case .error(let kind): return "error \(kind.rawValue)"
        }
    }
}

struct ReplyCase: Sendable, CustomTestStringConvertible {
    var label: String
    var reply: String
    var scale: JudgeScale = .numeric(min: 1, max: 5)
    var passAt: Double = 4
    var expected: ExpectedVerdict

    var testDescription: String { label }
}

@Suite struct JudgeReplyParserTests {
    static let numericCases: [ReplyCase] = [
        ReplyCase(
            label: "bare JSON", reply: #"{"score": 5, "reason": "Resolves the request."}"#,
            expected: .score(5, passed: true, reason: "Resolves the request.")),
        ReplyCase(label: "bare JSON with whitespace", reply: "\n  {\"score\":3}\n", expected: .score(3, passed: false, reason: nil)),
        ReplyCase(
            label: "fenced json block", reply: "```json\n{\n  \"score\": 4,\n  \"reason\": \"Good.\"\n}\n```",
            expected: .score(4, passed: true, reason: "Good.")),
        ReplyCase(
            label: "fenced after prose", reply: "Here is my grade:\n```json\n{\"score\": 2, \"reason\": \"Wrong order.\"}\n```\nHope this helps.",
            expected: .score(2, passed: false, reason: "Wrong order.")),
        ReplyCase(
            label: "prose before", reply: #"The answer is accurate and polite. {"score": 4, "reason": "ok"}"#,
            expected: .score(4, passed: true, reason: "ok")),
        ReplyCase(
            label: "prose after", reply: #"{"score": 1, "reason": "Refuses."} I gave a low score because the assistant refused."#,
            expected: .score(1, passed: false, reason: "Refuses.")),
        ReplyCase(
            label: "two objects, the first lacks score",
            reply: #"Criteria: {"relevance": "high", "tone": "polite"} Final: {"score": 5, "reason": "Complete."}"#,
            expected: .score(5, passed: true, reason: "Complete.")),
        ReplyCase(
            label: "stray braces in prose before the object", reply: #"Using {the rubric} and {criteria: 1}: {"score": 3}"#,
            expected: .score(3, passed: false, reason: nil)),
        ReplyCase(
            label: "nested braces and escapes inside strings",
            reply: #"{"reason": "Says \"use {order_id}\" and } then {", "score": 4}"#,
            expected: .score(4, passed: true, reason: #"Says "use {order_id}" and } then {"#)),
        ReplyCase(
            label: "score wrapped in an object", reply: #"{"evaluation": {"score": 2, "reason": "Vague."}}"#,
            expected: .score(2, passed: false, reason: "Vague.")),
        ReplyCase(label: "score as a string", reply: #"{"score": "4"}"#, expected: .score(4, passed: true, reason: nil)),
        ReplyCase(label: "score 4.0", reply: #"{"score": 4.0}"#, expected: .score(4, passed: true, reason: nil)),
        ReplyCase(label: "fractional score on a whole-number scale", reply: #"{"score": 4.5}"#, expected: .error(.notAnInteger)),
        ReplyCase(label: "fractional score as a string", reply: #"{"score": "3.5"}"#, expected: .error(.notAnInteger)),
        ReplyCase(
            label: "fractional score on a 0-1 scale", reply: #"{"score": 0.75}"#, scale: .numeric(min: 0, max: 1), passAt: 0.5,
            expected: .score(0.75, passed: true, reason: nil)),
        ReplyCase(
            label: "the rubric's reason placeholder echoed back",
            reply: #"{"score": 5, "reason": "<one sentence naming the main strength or flaw>"}"#, expected: .error(.placeholderEchoed)),
        ReplyCase(label: "the score placeholder echoed back as a string", reply: #"{"score": "<integer 1-5>"}"#, expected: .error(.placeholderEchoed)),
        ReplyCase(
            label: "a reason in angle brackets with more inside is kept", reply: #"{"score": 4, "reason": "uses <b> and </b> tags"}"#,
            expected: .score(4, passed: true, reason: "uses <b> and </b> tags")),
        ReplyCase(label: "score at the top", reply: #"{"score": 5}"#, expected: .score(5, passed: true, reason: nil)),
        ReplyCase(label: "score at the bottom", reply: #"{"score": 1}"#, expected: .score(1, passed: false, reason: nil)),
        ReplyCase(label: "out of range 7", reply: #"{"score": 7}"#, expected: .error(.outOfRange)),
        ReplyCase(label: "out of range 0", reply: #"{"score": 0, "reason": "bad"}"#, expected: .error(.outOfRange)),
        ReplyCase(label: "missing score", reply: #"{"reason": "It is fine."}"#, expected: .error(.noScore)),
        ReplyCase(label: "score not a number", reply: #"{"score": "four"}"#, expected: .error(.notANumber)),
        ReplyCase(label: "score null", reply: #"{"score": null}"#, expected: .error(.notANumber)),
        ReplyCase(label: "score true", reply: #"{"score": true}"#, expected: .error(.notANumber)),
        ReplyCase(label: "not JSON at all", reply: "I think it's good", expected: .error(.noJSON)),
        ReplyCase(label: "broken JSON", reply: #"{"score": 4, "reason": "unterminated}"#, expected: .error(.noJSON)),
        ReplyCase(label: "empty reply", reply: "", expected: .error(.noJSON)),
        ReplyCase(label: "a JSON array is not an object", reply: "[4]", expected: .error(.noJSON)),
        ReplyCase(
            label: "reason that is not a string is dropped", reply: #"{"score": 4, "reason": ["a"]}"#,
            expected: .score(4, passed: true, reason: nil)),
        ReplyCase(
            label: "0-10 scale", reply: #"{"score": 8}"#, scale: .numeric(min: 0, max: 10), passAt: 8,
            expected: .score(8, passed: true, reason: nil)),
    ]

    static let passFailCases: [ReplyCase] = [
        ReplyCase(
            label: "pass true", reply: #"{"pass": true, "reason": "Polite."}"#, scale: .passFail, passAt: 1,
            expected: .score(1, passed: true, reason: "Polite.")),
        ReplyCase(
            label: "pass false", reply: #"{"pass": false, "reason": "Leaks the system prompt."}"#, scale: .passFail, passAt: 1,
            expected: .score(0, passed: false, reason: "Leaks the system prompt.")),
        ReplyCase(label: "pass \"true\"", reply: #"{"pass": "true"}"#, scale: .passFail, passAt: 1, expected: .score(1, passed: true, reason: nil)),
        ReplyCase(label: "pass \"false\"", reply: #"{"pass": "false"}"#, scale: .passFail, passAt: 1, expected: .score(0, passed: false, reason: nil)),
        ReplyCase(label: "pass \"pass\"", reply: #"{"pass": "pass"}"#, scale: .passFail, passAt: 1, expected: .score(1, passed: true, reason: nil)),
        ReplyCase(label: "pass \"FAIL\"", reply: #"{"pass": "FAIL"}"#, scale: .passFail, passAt: 1, expected: .score(0, passed: false, reason: nil)),
        ReplyCase(
            label: "fenced pass_fail", reply: "Verdict:\n```json\n{\"pass\": false, \"reason\": \"Rude.\"}\n```", scale: .passFail, passAt: 1,
            expected: .score(0, passed: false, reason: "Rude.")),
        ReplyCase(label: "score instead of pass", reply: #"{"score": 1}"#, scale: .passFail, passAt: 1, expected: .error(.noPassField)),
        ReplyCase(label: "pass maybe", reply: #"{"pass": "maybe"}"#, scale: .passFail, passAt: 1, expected: .error(.noPassField)),
        ReplyCase(label: "pass_fail, not JSON", reply: "PASS", scale: .passFail, passAt: 1, expected: .error(.noJSON)),
    ]

    @Test(arguments: numericCases + passFailCases)
    func parsesReplies(_ c: ReplyCase) {
        let result = JudgeReplyParser.parse(c.reply, scale: c.scale, passAt: c.passAt)
        switch (result, c.expected) {
        case let (.success(score), .score(expected, passed, reason)):
            #expect(score == JudgeScore(score: expected, passed: passed, reason: reason), "\(c.label)")
        case let (.failure(error), .error(kind)):
            #expect(error.kind == kind, "\(c.label): \(error)")
            #expect(error.replyExcerpt == String(c.reply.prefix(200)))
            #expect(!error.message.isEmpty)
        default:
            Issue.record("\(c.label): got \(result), expected \(c.expected)")
        }
    }

    @Test func aReplyCutAtMaxTokensIsTruncated() throws {
        let scale = JudgeScale.numeric(min: 1, max: 5)
        let cut = #"{"score": 4, "reason": "The answer resolves the refund but the"#
        for reason in ["length", "max_tokens"] {
            let error = try #require(JudgeReplyParser.parse(cut, scale: scale, passAt: 4, finishReason: reason, maxOutputTokens: 20).failure)
            #expect(error.kind == .truncated)
            #expect(error.message.contains("max_output_tokens (20 tokens)"), "\(error.message)")
        }
        // Without the finish reason the same text is only unparseable.
        #expect(JudgeReplyParser.parse(cut, scale: scale, passAt: 4, finishReason: "stop").failure?.kind == .noJSON)
        // A verdict that fits before the cut is a verdict.
        let fits = try JudgeReplyParser.parse(#"{"score": 2} and then more"#, scale: scale, passAt: 4, finishReason: "length").get()
        #expect(fits.score == 2)
    }

    @Test func wholeNumberScales() {
        #expect(JudgeScale.numeric(min: 1, max: 5).takesWholeNumbers)
        #expect(JudgeScale.numeric(min: 0, max: 10).takesWholeNumbers)
        #expect(!JudgeScale.numeric(min: 0, max: 1).takesWholeNumbers)
        #expect(!JudgeScale.numeric(min: 0.5, max: 4.5).takesWholeNumbers)
        #expect(!JudgeScale.passFail.takesWholeNumbers)
        #expect(
            JudgeReplyParser.parse(#"{"score": 4.5}"#, scale: .numeric(min: 1, max: 5), passAt: 4).failure?.message
                == "score 4.5 is not a whole number; the scale 1...5 takes whole scores")
    }

    @Test func notJSONKeepsTheReplyAsExcerpt() throws {
        let error = try #require(JudgeReplyParser.parse("I think it's good", scale: .numeric(min: 1, max: 5), passAt: 4).failure)
        #expect(error.kind == .noJSON)
        #expect(error.replyExcerpt == "I think it's good")
        #expect(error.description == "no_json: the reply holds no JSON object")
    }

    @Test func excerptIsTheFirst200Characters() throws {
        let reply = String(repeating: "The answer is fine ü. ", count: 23).prefix(500)
        #expect(reply.count == 500)
        let error = try #require(JudgeReplyParser.parse(String(reply), scale: .numeric(min: 1, max: 5), passAt: 4).failure)
        #expect(error.replyExcerpt.count == 200)
        #expect(error.replyExcerpt == String(reply.prefix(200)))
    }

    @Test func messagesNameTheValues() throws {
        let scale = JudgeScale.numeric(min: 1, max: 5)
        #expect(JudgeReplyParser.parse(#"{"score": 7}"#, scale: scale, passAt: 4).failure?.message == "score 7 is outside the scale 1...5")
        #expect(JudgeReplyParser.parse(#"{"score": "four"}"#, scale: scale, passAt: 4).failure?.message == "\"score\" is \"four\", not a number")
        #expect(JudgeReplyParser.parse(#"{"pass": 2}"#, scale: .passFail, passAt: 1).failure?.message == "\"pass\" is a number, not true or false")
    }

    @Test func longReasonsAreCut() throws {
        let reason = String(repeating: "r", count: 5000)
        let score = try JudgeReplyParser.parse(#"{"score": 4, "reason": "\#(reason)"}"#, scale: .numeric(min: 1, max: 5), passAt: 4).get()
        #expect(score.reason?.count == JudgeReplyParser.maxReasonLength + 1)
    }

    @Test func manyStrayBracesStayCheap() {
        let reply = String(repeating: "{", count: 50_000) + #"{"score": 4}"#
        // Bounded: gives up rather than scanning quadratically; either outcome is fine, it must return.
        _ = JudgeReplyParser.parse(reply, scale: .numeric(min: 1, max: 5), passAt: 4)
    }
}

extension Result {
    var failure: Failure? { if case .failure(let error) = self { return error } else { return nil } }
}
