import EvaldCore
import Foundation
import Testing

@Suite struct FeedbackLineReaderTests {
    func read(_ line: String) -> FeedbackLineReader.Reading {
        Array(line.utf8).withUnsafeBytes { FeedbackLineReader.read($0) }
    }

    @Test func aLineWithoutFeedbackGoesItsUsualWay() {
        #expect(read(native(droppedID)) == .none)
        // "feedback" inside a string is escaped text, not a key.
        #expect(read(native(droppedID, extra: #","output2":"say \"feedback\" please""#)) == .none)
        // A record whose feedback is null has none (and is not parsed: producers write it on every record).
        #expect(read(native(droppedID, extra: #","feedback":null"#)) == .none)
        let later = native(droppedID, extra: #","feedback" : null, "tags":["feedback"]"#)
        #expect(Array(later.utf8).withUnsafeBytes { FeedbackLineReader.mentionsFeedback($0) }, "a later mention is still looked at")
        #expect(read(later) == .none)
        #expect(!Array(native(droppedID, extra: #","feedback": null"#).utf8).withUnsafeBytes { FeedbackLineReader.mentionsFeedback($0) })
        #expect(Array(#"{"kind":"feedback","route":"r","value":"up"}"#.utf8).withUnsafeBytes { FeedbackLineReader.mentionsFeedback($0) })
        // Nested under metadata: not the record's feedback.
        #expect(read(native(droppedID, extra: #","metadata":{"feedback":"up"}"#)) == .none)
    }

    @Test func feedbackLinesAreReadWithTheirOptionalFields() {
        let line =
            #"{"kind":"feedback","trace_id":"\#(droppedID)","timestamp":"2026-11-28T10:00:05Z","route":"support-chat","model":"gpt-4o-mini","prompt_version":"v8","value":"down"}"#
        guard case .line(let event) = read(line) else { Issue.record("expected a feedback line: \(read(line))"); return }
        #expect(event.source == .line && event.traceID == droppedID && event.route == "support-chat" && event.model == "gpt-4o-mini")
        #expect(event.promptVersion == "v8" && event.value == .thumb(up: false))
        #expect(event.timestamp == RFC3339.parse("2026-11-28T10:00:05Z"))

        guard case .line(let bare) = read(#"{"kind": "feedback", "route": "r", "value": 4.5}"#) else { Issue.record("expected a feedback line"); return }
        #expect(bare.value == .score(4.5) && bare.model == "" && bare.traceID == nil && bare.timestamp == nil)
        guard case .line(let up) = read(#"{"kind":"feedback","route":"r","value":"thumbs_up"}"#) else { Issue.record("expected a feedback line"); return }
        #expect(up.value == .thumb(up: true))
    }

    @Test func badFeedbackLinesAreProblemsThatSayWhy() {
        func problem(_ line: String) -> LineProblem? {
            if case .problem(let problem) = read(line) { return problem }
            return nil
        }
        #expect(problem(#"{"kind":"feedback","value":"up"}"#) == LineProblem(.missingField, "feedback line: missing required field \"route\""))
        #expect(problem(#"{"kind":"feedback","route":"r"}"#)?.reason == .missingField)
        #expect(problem(#"{"kind":"feedback","route":"r","value":"meh"}"#)?.detail.contains("\"value\" must be \"up\", \"down\" or a number") == true)
        #expect(problem(#"{"kind":"feedback","route":"r","value":"up","timestamp":"yesterday"}"#)?.reason == .invalidField)
        #expect(problem(#"{"kind":"feedback","route":7,"value":"up"}"#)?.reason == .invalidField)
        #expect(problem(#"{"kind":"feedback","route":"r","value":"up""#)?.reason == .invalidJSON)
    }

    @Test func aRecordsFeedbackIsCountedWhetherOrNotItIsSampled() {
        guard case .record(let event) = read(native(droppedID, extra: #","prompt_version":"v7","feedback":"up""#)) else {
            Issue.record("expected a record's feedback"); return
        }
        #expect(event.source == .record && event.traceID == droppedID && event.route == "support-chat" && event.model == "gpt-4o-mini")
        #expect(event.promptVersion == "v7" && event.value == .thumb(up: true))
        // A number stays a number: 1 is a rating, not a thumb.
        guard case .record(let rated) = read(native(droppedID, extra: #","feedback":1"#)) else { Issue.record("expected a record's feedback"); return }
        #expect(rated.value == .score(1))
        // A record whose feedback cannot be read is a bad record, sampled or not.
        guard case .problem(let problem) = read(native(droppedID, extra: #","feedback":"meh""#)) else { Issue.record("expected a problem"); return }
        #expect(problem.reason == .invalidField)
    }

    /// Unsampled lines have their feedback read from the usage scan, not from a parse of the
    /// line: both readings must agree on every record the scan reads.
    @Test func theScansReadingAgreesWithTheFullOne() throws {
        let extras = [
            #","feedback":"up""#, #","feedback":1"#, #","feedback":-2.5e1"#, #","feedback":"THUMBS_DOWN""#, #","feedback":"meh""#,
            #","feedback":{"value":"up"}"#, #","feedback":[1]"#, #","feedback":true"#, #","feedback":"\u0075p""#,
            #","prompt_version":"v7","feedback":"negative""#, #","prompt_version":"","feedback":"up""#,
            #","feedback":null"#, #","metadata":{"feedback":"up"}"#,
        ]
        let lines = extras.map { native(droppedID, extra: $0) } + [native(droppedID, route: "caf\\u00e9", extra: #","feedback":"up""#)]
        for line in lines.map({ Array($0.utf8) }) {
            let extra = String(decoding: line, as: UTF8.self)
            try line.withUnsafeBytes { bytes in
                let scanned = try #require(UsageScanner.read(bytes), "\(extra)")
                #expect(FeedbackLineReader.read(scanned, in: bytes) == FeedbackLineReader.read(bytes), "\(extra)")
            }
        }
        // A repeated `feedback` is left to the full reading, where the first one wins.
        let repeated = Array(native(droppedID, extra: #","feedback":"up","feedback":null"#).utf8)
        repeated.withUnsafeBytes { bytes in
            #expect(UsageScanner.read(bytes) == nil)
            guard case .record(let event) = FeedbackLineReader.read(bytes) else { Issue.record("expected the first feedback"); return }
            #expect(event.value == .thumb(up: true))
        }
    }
}
