import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds the feedback in a spool line before (and whatever) the sampler decides: feedback is
/// rare and cheap, so it is counted from every line, sampled or not.
///
/// A line that does not hold the bytes `"feedback"` (a key or a whole string value; inside a
/// JSON string a quote is escaped) has none, and costs one memmem. Only the few lines that
/// hold them are parsed.
public enum FeedbackLineReader {
    public enum Reading: Sendable, Equatable {
        /// No feedback: the line goes its usual way.
        case none
        /// A feedback line: counted, and not a record.
        case line(FeedbackEvent)
        /// A native record with a `feedback` field: counted, and the record goes its usual way.
        case record(FeedbackEvent)
        /// A feedback line, or a record's feedback, that cannot be used: the line is quarantined.
        case problem(LineProblem)
    }

    public static func read(_ line: UnsafeRawBufferPointer) -> Reading {
        guard mentionsFeedback(line) else { return .none }
        let value: JSONValue
        do {
            value = try LineClassifier.parseJSON(line)
        } catch {
            return .problem(error)
        }
        guard case .object = value else { return .none }
        if value["kind"]?.stringValue == "feedback" {
            do { return .line(try decodeFeedbackLine(value)) } catch { return .problem(error) }
        }
        guard let raw = value["feedback"], !raw.isNull, value["resourceSpans"] == nil else { return .none }
        do throws(LineProblem) {
            let record = try NativeRecordDecoder.decode(value)
            guard let feedback = FeedbackValue.decode(raw) else { throw invalidFeedback }
            return .record(
                FeedbackEvent(
                    source: .record, traceID: record.traceID, timestamp: record.timestamp, route: record.route ?? "", model: record.model,
                    promptVersion: record.promptVersion, value: feedback))
        } catch {
            return .problem(error)
        }
    }

    /// The feedback of a native record whose fields `UsageScanner` read (a line without a `kind`
    /// member): its `feedback` value is parsed alone, and the event made from the scanned fields,
    /// as `read(_:)` would make it from the decoded record.
    public static func read(_ scanned: ScannedUsage, in line: UnsafeRawBufferPointer) -> Reading {
        guard let range = scanned.feedback, !scanned.hasKind else { return scanned.hasKind ? read(line) : .none }
        guard let raw = try? JSONParser.parse(UnsafeRawBufferPointer(rebasing: line[range])), let value = FeedbackValue.decode(raw) else {
            return .problem(invalidFeedback)
        }
        return .record(
            FeedbackEvent(
                source: .record, traceID: scanned.traceID.string(in: line), timestamp: Date(timeIntervalSince1970: scanned.timestamp),
                route: scanned.route?.string(in: line) ?? "", model: scanned.model.string(in: line),
                promptVersion: scanned.promptVersion?.string(in: line), value: value))
    }

    static let invalidFeedback = LineProblem(.invalidField, "\"feedback\" must be \"up\", \"down\" or a number")

    /// `{"kind": "feedback", "trace_id", "timestamp", "route", "model", "prompt_version",
    /// "value"}`; `route` and `value` are required.
    public static func decodeFeedbackLine(_ object: JSONValue) throws(LineProblem) -> FeedbackEvent {
        guard let rawRoute = NativeRecordDecoder.present(object["route"]) else {
            throw LineProblem(.missingField, "feedback line: missing required field \"route\"")
        }
        guard let route = rawRoute.stringValue, !route.isEmpty else {
            throw LineProblem(.invalidField, "feedback line: \"route\" must be a non-empty string")
        }
        guard let rawValue = NativeRecordDecoder.present(object["value"]) else {
            throw LineProblem(.missingField, "feedback line: missing required field \"value\" (\"up\", \"down\" or a number)")
        }
        guard let value = FeedbackValue.decode(rawValue) else {
            throw LineProblem(.invalidField, "feedback line: \"value\" must be \"up\", \"down\" or a number, not \(describe(rawValue))")
        }
        let traceID = try optionalString(object, "trace_id")
        let model = try optionalString(object, "model") ?? ""
        let promptVersion = try optionalString(object, "prompt_version")
        var timestamp: Date?
        if let raw = NativeRecordDecoder.present(object["timestamp"]) {
            do { timestamp = try NativeRecordDecoder.decodeTimestamp(raw) } catch {
                throw LineProblem(error.reason, "feedback line: \(error.detail)")
            }
        }
        return FeedbackEvent(
            source: .line, traceID: traceID, timestamp: timestamp, route: route, model: model, promptVersion: promptVersion, value: value)
    }

    private static func optionalString(_ object: JSONValue, _ key: String) throws(LineProblem) -> String? {
        guard let value = NativeRecordDecoder.present(object[key]) else { return nil }
        guard let text = value.stringValue else {
            throw LineProblem(.invalidField, "feedback line: \"\(key)\" must be a string, not \(value.typeName)")
        }
        return text.isEmpty ? nil : text
    }

    private static func describe(_ value: JSONValue) -> String {
        if let text = value.stringValue { return "\"\(text.prefix(40))\"" }
        return value.typeName
    }

    /// Whether what follows a string is `: null`: a `"feedback": null` member, which producers
    /// write on every record (as the SPEC's example does) and which is no feedback.
    @inline(__always)
    static func isNullMember(_ line: UnsafeRawBufferPointer, after start: Int) -> Bool {
        var i = JSONLineScanner.skipWhitespace(line, start)
        guard i < line.count, line[i] == 0x3A else { return false }
        i = JSONLineScanner.skipWhitespace(line, i + 1)
        return JSONLineScanner.equals(line, i..<min(line.count, i + 4), "null")
    }

    /// Whether the line holds `"feedback"` anywhere but as a key whose value is null. memmem is
    /// a GNU extension the Glibc module does not export; a `k` is rare in JSON keys and text
    /// (a seventh as common as a quote in the example spool), so each `k` memchr finds is
    /// checked for the `"feedbac` before it and the quote after it. About three times the cost
    /// of framing the line (one memchr over it).
    @inline(__always)
    public static func mentionsFeedback(_ line: UnsafeRawBufferPointer) -> Bool {
        let head: StaticString = "\"feedbac"
        let headLength = head.utf8CodeUnitCount
        guard let base = line.baseAddress, line.count >= headLength + 2 else { return false }
        var from = headLength
        while from < line.count - 1 {
            guard let hit = memchr(base + from, 0x6B, line.count - 1 - from) else { return false }
            let at = base.distance(to: UnsafeRawPointer(hit))
            if line[at + 1] == 0x22, memcmp(base + at - headLength, head.utf8Start, headLength) == 0, !isNullMember(line, after: at + 2) {
                return true
            }
            from = at + 1
        }
        return false
    }
}
