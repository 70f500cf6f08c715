import EvaldCore
import Foundation
import Testing

let keptID = "75b15b0be23b7ac193fe040727553980"  // R = 0xfe04..., kept at 1%
let droppedID = "75b15b0be23b7ac10000000000000001"  // R tiny, dropped at any rate below 1

func classify(_ line: String, rate: Double = 1, routes: [(Glob, Double)] = [], validatesEveryLine: Bool = false) -> LineClassifier.Outcome {
    let classifier = LineClassifier(
        sampler: TraceSampler(globalRate: rate, routeRates: routes.map { (glob: $0.0, rate: $0.1) }),
        validatesEveryLine: validatesEveryLine)
    return Array(line.utf8).withUnsafeBytes { classifier.classify($0) }
}

func native(_ id: String, route: String = "support-chat", extra: String = "") -> String {
    #"{"trace_id":"\#(id)","timestamp":"2026-11-28T10:00:00.123Z","route":"\#(route)","model":"gpt-4o-mini","output":"hi"\#(extra)}"#
}

@Suite struct LineClassifierTests {
    @Test func keptRecordIsDecoded() throws {
        guard case .sampled(let record, let rate) = classify(native(keptID), rate: 0.01) else {
            Issue.record("expected sampled"); return
        }
        #expect(rate == 0.01)
        #expect(record.traceID == keptID)
        #expect(record.route == "support-chat")
        #expect(record.output == "hi")
        #expect(abs(record.timestamp.timeIntervalSince1970 - 1_795_860_000.123) < 1e-6)
    }

    @Test func withValidateAllUnsampledLinesAreValidatedStructurally() {
        func strict(_ line: String) -> LineClassifier.Outcome { classify(line, rate: 0.5, validatesEveryLine: true) }
        // Broken after the trace id: noticed although the line is not in the sample...
        let broken = #"{"trace_id":"\#(droppedID)","model": BROKEN}"#
        guard case .malformed(let problem) = strict(broken) else { Issue.record("expected malformed"); return }
        #expect(problem.reason == .invalidJSON)
        let truncated = #"{"trace_id":"\#(droppedID)","timestamp":1,"model":"m","output":"cut her"#
        guard case .malformed(let cut) = strict(truncated) else { Issue.record("expected malformed"); return }
        #expect(cut.reason == .invalidJSON)
        let noModel = #"{"trace_id":"\#(droppedID)","timestamp":1,"output":"o","model":null}"#
        guard case .malformed(let missing) = strict(noModel) else { Issue.record("expected malformed"); return }
        #expect(missing == LineProblem(.missingField, #"missing required field "model""#))
        let trailing = #"{"trace_id":"\#(droppedID)","timestamp":1,"model":"m","output":"o"} x"#
        guard case .malformed = strict(trailing) else { Issue.record("expected malformed"); return }
        // ...while an unsampled error record without output is fine.
        let error = #"{"trace_id":"\#(droppedID)","timestamp":1,"model":"m","status":"error"}"#
        guard case .unsampled = strict(error) else { Issue.record("expected unsampled"); return }
    }

    @Test func withValidateAllWrongTypesBadUTF8AndMismatchedBracketsAreCaught() {
        func strict(_ line: String) -> LineProblem? {
            if case .malformed(let problem) = classify(line, rate: 0, validatesEveryLine: true) { return problem }
            return nil
        }
        let base = #""trace_id":"\#(droppedID)","timestamp":"2026-11-28T10:00:00Z""#
        #expect(strict(#"{\#(base),"model":5,"output":"o"}"#)?.reason == .invalidField)
        #expect(strict(#"{\#(base),"model":"","output":"o"}"#)?.reason == .invalidField)
        #expect(strict(#"{"trace_id":"\#(droppedID)","timestamp":"yesterday","model":"m","output":"o"}"#)?.reason == .invalidField)
        #expect(strict(#"{"trace_id":"\#(droppedID)","timestamp":true,"model":"m","output":"o"}"#)?.reason == .invalidField)
        #expect(strict(#"{\#(base),"model":"m","output":["o"]}"#)?.reason == .invalidField)
        #expect(strict(#"{\#(base),"model":"m","output":"o","status":"maybe"}"#)?.reason == .invalidField)
        #expect(strict(#"{\#(base),"model":"m","output":"o","input":[1,}}"#)?.reason == .invalidJSON)
        #expect(strict(#"{\#(base),"model":"m","output":"o","input":{"a":[1}]}"#)?.reason == .invalidJSON)
        #expect(strict(#"{\#(base),"model":"m","output":"o","input":[{"a":[]}]}"#) == nil)
        var bytes = Array(#"{\#(base),"model":"m","output":"caf\#u{e9}"}"#.utf8)
        bytes[bytes.count - 4] = 0xFF
        let classifier = LineClassifier(sampler: TraceSampler(globalRate: 0), validatesEveryLine: true)
        guard case .malformed(let problem) = bytes.withUnsafeBytes({ classifier.classify($0) }) else { Issue.record("expected malformed"); return }
        #expect(problem.reason == .invalidUTF8)
    }

    @Test func shardDecidesBeforeTheRate() {
        // keptID's R is even or odd; only the shard that owns it keeps it, at any rate.
        let r = TraceSampler.randomness(traceID: keptID)
        let owner = Int(r % 2) + 1
        for k in 1...2 {
            let classifier = LineClassifier(sampler: TraceSampler(globalRate: 1, shard: Shard(index: k, count: 2)))
            let outcome = Array(native(keptID).utf8).withUnsafeBytes { classifier.classify($0) }
            if case .sampled = outcome { #expect(k == owner) } else { #expect(k != owner) }
        }
    }

    @Test func byDefaultUnsampledLinesAreOnlyScannedForTheirIDAndTheirEnd() {
        let brokenInside = #"{"trace_id":"\#(droppedID)","model": BROKEN}"#
        guard case .unsampled = classify(brokenInside, rate: 0.5) else { Issue.record("expected unsampled"); return }
        let noModel = #"{"trace_id":"\#(droppedID)","timestamp":1,"output":"o"}"#
        guard case .unsampled = classify(noModel, rate: 0.5) else { Issue.record("expected unsampled"); return }
        // A line cut short is caught either way.
        let truncated = #"{"trace_id":"\#(droppedID)","timestamp":1,"model":"m","output":"cut her"#
        guard case .malformed(let cut) = classify(truncated, rate: 0.5) else { Issue.record("expected malformed"); return }
        #expect(cut.reason == .invalidJSON)
    }

    @Test func routeRateDecides() {
        // R of keptID is ~0.992 of the range: kept at 1%, and a route at 0 drops it.
        guard case .unsampled = classify(native(keptID, route: "noisy-x"), rate: 0.01, routes: [(Glob("noisy-*"), 0)]) else {
            Issue.record("expected unsampled"); return
        }
        guard case .sampled(_, let rate) = classify(native(keptID, route: "refunds-eu"), rate: 0.0, routes: [(Glob("refunds-*"), 0.05)]) else {
            Issue.record("expected sampled"); return
        }
        #expect(rate == 0.05)
    }

    @Test(arguments: [
        ("[1,2,3]", QuarantineReason.notAnObject),
        (#"{"trace_id":"x","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"cut"#, .invalidJSON),
        (#"{"trace_id":"x","timestamp":"2026-11-28T10:00:00Z","output":"o"}"#, .missingField),
        (#"{"trace_id":"x","timestamp":"yesterday","model":"m","output":"o"}"#, .invalidField),
        (#"{"trace_id":"x","timestamp":"2026-11-28T10:00:00Z","model":"m"}"#, .missingField),
        (#"{"timestamp":"2026-11-28T10:00:00Z","model":"m","output":"o"}"#, .missingField),
        (#"{"trace_id":"","timestamp":"2026-11-28T10:00:00Z","model":"m","output":"o"}"#, .invalidField),
        (#"{"trace_id":7,"timestamp":"2026-11-28T10:00:00Z","model":"m","output":"o"}"#, .invalidField),
    ])
    func malformedLines(line: String, reason: QuarantineReason) {
        switch classify(line) {
        case .malformed(let problem): #expect(problem.reason == reason, "\(problem.detail)")
        case .otlp: #expect(reason == .unsupportedFormat)
        default: Issue.record("expected \(reason) for \(line)")
        }
    }

    @Test func invalidUTF8IsReported() {
        var bytes = Array(native(keptID).utf8)
        bytes.insert(0xFF, at: bytes.count - 3)
        let classifier = LineClassifier(sampler: TraceSampler(globalRate: 1))
        guard case .malformed(let problem) = bytes.withUnsafeBytes({ classifier.classify($0) }) else {
            Issue.record("expected malformed"); return
        }
        #expect(problem.reason == .invalidUTF8)
    }

    @Test func errorRecordsMayOmitOutput() {
        let line = #"{"trace_id":"x","timestamp":1795860000,"model":"m","status":"error","error":"rate_limited"}"#
        guard case .sampled(let record, _) = classify(line) else { Issue.record("expected sampled"); return }
        #expect(record.status == .error)
        #expect(record.output == nil)
        #expect(record.timestamp == Date(timeIntervalSince1970: 1_795_860_000))
    }

    @Test func blankLine() {
        guard case .blank = classify("  \r") else { Issue.record("expected blank"); return }
    }
}
