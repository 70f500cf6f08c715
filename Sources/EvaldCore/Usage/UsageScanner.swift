import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a native record's usage fields (time, route, tenant, model, status, error, token
/// counts, latency, cost) from its line without decoding it: every line of the spool passes
/// here, and a full decode of each would cost several times the reading (Benchmarks/RESULTS.md).
///
/// It walks the top-level members once, jumping over strings with memchr, and checks the
/// required fields and the type of every field it reads. Anything it cannot read plainly (an
/// escaped timestamp, a field of the wrong type, broken structure) gives nil, and the caller
/// decodes the line fully, which either reads it or says precisely what is wrong.
public enum UsageScanner {
    /// The call's usage with its texts made Strings; nil when the line must be decoded fully.
    /// - Parameter withRecordID: read the trace id into `recordID` (budgets name the crossing
    ///   record); a string a line otherwise not needed.
    public static func scan(_ b: UnsafeRawBufferPointer, withRecordID: Bool = false) -> CallUsage? {
        read(b, withRecordID: withRecordID)?.callUsage(in: b)
    }

    /// The usage fields as the line holds them (texts as byte ranges): what ingest adds to a
    /// `UsageBatch` without making a String a line. Nil when the line must be decoded fully.
    public static func read(_ b: UnsafeRawBufferPointer, withRecordID: Bool = false) -> ScannedUsage? {
        var i = JSONLineScanner.skipWhitespace(b, 0)
        guard i < b.count, b[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        var fields = Fields()
        fields.wantsRecordID = withRecordID
        while true {
            i = JSONLineScanner.skipWhitespace(b, i)
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: "}") { break }
            guard b[i] == 0x22, let keyEnd = JSONLineScanner.skipString(b, i) else { return nil }
            let key = (i + 1)..<(keyEnd - 1)
            i = JSONLineScanner.skipWhitespace(b, keyEnd)
            guard i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
            i = JSONLineScanner.skipWhitespace(b, i + 1)
            guard i < b.count, let valueEnd = JSONLineScanner.skipValue(b, i) else { return nil }
            guard fields.read(key: key, value: i..<valueEnd, in: b) else { return nil }
            i = JSONLineScanner.skipWhitespace(b, valueEnd)
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            guard b[i] == UInt8(ascii: "}") else { return nil }
            break
        }
        guard JSONLineScanner.skipWhitespace(b, i + 1) == b.count else { return nil }
        return fields.usage
    }

    private struct Fields {
        var wantsRecordID = false
        var traceID: ScannedText?
        var promptVersion: ScannedText?
        var timestamp: Double?
        var model: ScannedText?
        var route: ScannedText?
        var tenant: ScannedText?
        var error: ScannedText?
        var isError = false
        var hasOutput = false
        var inputTokens: Int?
        var outputTokens: Int?
        var promptTokens: Int?
        var completionTokens: Int?
        var latencyMs: Double?
        var costUSD: Double?
        var hasKind = false
        var feedback: Range<Int>?
        /// The members read so far, a bit each: a key that repeats makes the caller decode the
        /// line, so that the first one wins, as in the decoder and the sampling decision.
        var seen: UInt32 = 0

        enum Member: Int {
            case model, route, error, usage, tenant, status, output, traceID, feedback, costUSD, timestamp, promptVersion, latencyMs
            // The members of `usage` are bits 17 to 20 (`16 + which`).
        }

        @inline(__always)
        mutating func isFirst(_ member: Member) -> Bool { isFirst(member.rawValue) }

        @inline(__always)
        mutating func isFirst(_ member: Int) -> Bool {
            let bit: UInt32 = 1 << member
            defer { seen |= bit }
            return seen & bit == 0
        }

        var usage: ScannedUsage? {
            guard let traceID, let timestamp, let model, hasOutput || isError else { return nil }
            return ScannedUsage(
                timestamp: timestamp, route: route, tenant: tenant, model: model, isError: isError, error: error,
                inputTokens: inputTokens ?? promptTokens, outputTokens: outputTokens ?? completionTokens, latencyMs: latencyMs,
                costUSD: costUSD, recordID: wantsRecordID ? traceID : nil, traceID: traceID, promptVersion: promptVersion, hasKind: hasKind,
                feedback: feedback)
        }

        /// Reads one member; false when the line must be decoded fully to be judged.
        mutating func read(key: Range<Int>, value: Range<Int>, in b: UnsafeRawBufferPointer) -> Bool {
            let isNull = b[value.lowerBound] == UInt8(ascii: "n")
            if isNull, !JSONLineScanner.equals(b, value, "null") { return false }
            // Keys are compared by length first: most members are none of these.
            switch key.count {
            case 4:
                // Perhaps a feedback line (`"kind": "feedback"`): the caller reads it as one.
                if JSONLineScanner.equals(b, key, "kind") { hasKind = true }
            case 5:
                if JSONLineScanner.equals(b, key, "model") {
                    guard isFirst(.model) else { return false }
                    if isNull { return true }
                    guard let text = ScannedText(b, value), !text.isEmpty else { return false }
                    model = text
                } else if JSONLineScanner.equals(b, key, "route") {
                    guard isFirst(.route) else { return false }
                    if isNull { return true }
                    guard let text = ScannedText(b, value) else { return false }
                    route = text
                } else if JSONLineScanner.equals(b, key, "error") {
                    guard isFirst(.error) else { return false }
                    if isNull { return true }
                    guard let text = ScannedText(b, value) else { return false }
                    error = text
                } else if JSONLineScanner.equals(b, key, "usage") {
                    guard isFirst(.usage) else { return false }
                    if isNull { return true }
                    return readUsage(value, in: b)
                }
            case 6:
                if JSONLineScanner.equals(b, key, "tenant") {
                    guard isFirst(.tenant) else { return false }
                    if isNull { return true }
                    guard let text = ScannedText(b, value) else { return false }
                    tenant = text
                } else if JSONLineScanner.equals(b, key, "status") {
                    guard isFirst(.status) else { return false }
                    if isNull { return true }
                    guard let status = UsageScanner.status(b, value) else { return false }
                    isError = status
                } else if JSONLineScanner.equals(b, key, "output") {
                    guard isFirst(.output) else { return false }
                    if isNull { return true }
                    guard b[value.lowerBound] == 0x22 else { return false }
                    hasOutput = true
                }
            case 8:
                if JSONLineScanner.equals(b, key, "trace_id") {
                    guard isFirst(.traceID) else { return false }
                    guard b[value.lowerBound] == 0x22, value.count > 2, let text = ScannedText(b, value) else { return false }
                    traceID = text
                } else if JSONLineScanner.equals(b, key, "feedback") {
                    guard isFirst(.feedback) else { return false }
                    if !isNull { feedback = value }
                } else if JSONLineScanner.equals(b, key, "cost_usd") {
                    guard isFirst(.costUSD) else { return false }
                    if isNull { return true }
                    guard let number = UsageScanner.number(b, value) else { return false }
                    costUSD = number
                }
            case 9:
                if JSONLineScanner.equals(b, key, "timestamp") {
                    guard isFirst(.timestamp) else { return false }
                    if isNull { return true }
                    guard let seconds = UsageScanner.timestamp(b, value) else { return false }
                    timestamp = seconds
                }
            case 14:
                if JSONLineScanner.equals(b, key, "prompt_version") {
                    guard isFirst(.promptVersion) else { return false }
                    if isNull { return true }
                    guard let text = ScannedText(b, value) else { return false }
                    promptVersion = text
                }
            case 10:
                if JSONLineScanner.equals(b, key, "latency_ms") {
                    guard isFirst(.latencyMs) else { return false }
                    if isNull { return true }
                    guard let number = UsageScanner.number(b, value) else { return false }
                    latencyMs = number
                }
            default:
                break
            }
            return true
        }

        /// `usage: {input_tokens, output_tokens}` (or OpenAI's `prompt_tokens`, `completion_tokens`).
        mutating func readUsage(_ range: Range<Int>, in b: UnsafeRawBufferPointer) -> Bool {
            guard b[range.lowerBound] == UInt8(ascii: "{") else { return false }
            var i = range.lowerBound + 1
            let end = range.upperBound - 1
            while true {
                i = JSONLineScanner.skipWhitespace(b, i)
                guard i <= end else { return false }
                if b[i] == UInt8(ascii: "}") { return true }
                guard b[i] == 0x22, let keyEnd = JSONLineScanner.skipString(b, i) else { return false }
                let key = (i + 1)..<(keyEnd - 1)
                i = JSONLineScanner.skipWhitespace(b, keyEnd)
                guard i < end, b[i] == UInt8(ascii: ":") else { return false }
                i = JSONLineScanner.skipWhitespace(b, i + 1)
                guard i < end, let valueEnd = JSONLineScanner.skipValue(b, i) else { return false }
                let value = i..<valueEnd
                // Which of the four counts this member is (0 = none of them).
                var which = 0
                if JSONLineScanner.equals(b, key, "input_tokens") {
                    which = 1
                } else if JSONLineScanner.equals(b, key, "output_tokens") {
                    which = 2
                } else if JSONLineScanner.equals(b, key, "prompt_tokens") {
                    which = 3
                } else if JSONLineScanner.equals(b, key, "completion_tokens") {
                    which = 4
                }
                if which > 0 {
                    guard isFirst(16 + which) else { return false }
                }
                if which > 0, !JSONLineScanner.equals(b, value, "null") {
                    guard let number = UsageScanner.number(b, value), number >= 0, number < 1e15 else { return false }
                    switch which {
                    case 1: inputTokens = Int(number)
                    case 2: outputTokens = Int(number)
                    case 3: promptTokens = Int(number)
                    default: completionTokens = Int(number)
                    }
                }
                i = JSONLineScanner.skipWhitespace(b, valueEnd)
                guard i <= end else { return false }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                return b[i] == UInt8(ascii: "}") && i == end
            }
        }
    }

    /// A string value's text; escaped strings go through the JSON parser.
    static func string(_ b: UnsafeRawBufferPointer, _ range: Range<Int>) -> String? {
        guard b[range.lowerBound] == 0x22, range.count >= 2 else { return nil }
        let content = (range.lowerBound + 1)..<(range.upperBound - 1)
        if JSONLineScanner.contains(b, content, 0x5C) {
            return (try? JSONParser.parse(UnsafeRawBufferPointer(rebasing: b[range])))?.stringValue
        }
        return String(validating: UnsafeRawBufferPointer(rebasing: b[content]), as: UTF8.self)
    }

    /// A finite JSON number. Plain integers (token counts, most latencies) and short decimals
    /// (costs) are read without making a String.
    static func number(_ b: UnsafeRawBufferPointer, _ range: Range<Int>) -> Double? {
        if range.count <= 15, b[range.lowerBound] != UInt8(ascii: "0") || range.count == 1 {
            var value = 0
            var plain = true
            for i in range {
                let digit = b[i] &- 0x30
                guard digit < 10 else { plain = false; break }
                value = value * 10 + Int(digit)
            }
            if plain { return Double(value) }
        }
        guard range.count <= 40, JSONLineScanner.isScalarValid(b, range) else { return nil }
        let first = b[range.lowerBound]
        guard first == UInt8(ascii: "-") || (first >= 0x30 && first <= 0x39) else { return nil }
        if let value = DecimalText.exactValue(UnsafeRawBufferPointer(rebasing: b[range])) { return value }
        guard let value = Double(String(decoding: UnsafeRawBufferPointer(rebasing: b[range]), as: UTF8.self)), value.isFinite else { return nil }
        return value
    }

    /// RFC 3339 text or Unix seconds, as the decoder accepts them.
    static func timestamp(_ b: UnsafeRawBufferPointer, _ range: Range<Int>) -> Double? {
        if b[range.lowerBound] == 0x22 {
            guard range.count >= 2 else { return nil }
            let content = (range.lowerBound + 1)..<(range.upperBound - 1)
            if !JSONLineScanner.contains(b, content, 0x5C) {
                // Through Date, as the decoder's time is: Date counts from 2001, which can move
                // the last bit of a fractional time.
                return RFC3339.seconds(utf8: UnsafeRawBufferPointer(rebasing: b[content])).map { Date(timeIntervalSince1970: $0).timeIntervalSince1970 }
            }
            guard let text = string(b, range), let date = RFC3339.parse(text) else { return nil }
            return date.timeIntervalSince1970
        }
        guard let seconds = number(b, range), seconds >= 0, seconds < 7_258_118_400 else { return nil }
        return seconds
    }

    /// `status`: true for "error", false for "ok", either in any case as the decoder reads it;
    /// nil for anything else. Plain ASCII is compared in place; other text goes the decoder's way.
    static func status(_ b: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool? {
        guard b[range.lowerBound] == 0x22, range.count >= 2 else { return nil }
        let content = (range.lowerBound + 1)..<(range.upperBound - 1)
        // Both words are ASCII letters: OR 0x20 folds their case (and nothing else lands on them).
        if content.count == 2, b[content.lowerBound] | 0x20 == 0x6F, b[content.lowerBound + 1] | 0x20 == 0x6B { return false }
        if content.count == 5 {
            let word: StaticString = "error"
            var matches = true
            for k in 0..<5 where b[content.lowerBound + k] | 0x20 != word.utf8Start[k] { matches = false }
            if matches { return true }
        }
        if !JSONLineScanner.contains(b, content, 0x5C), JSONLineScanner.isASCII(b, content) { return nil }
        guard let text = string(b, range) else { return nil }
        switch text.lowercased() {
        case "ok": return false
        case "error": return true
        default: return nil
        }
    }
}
