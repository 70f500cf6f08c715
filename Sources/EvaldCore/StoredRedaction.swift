import Foundation

/// `storage.redact: true`: what evald stores has every PII match replaced by
/// `[REDACTED:<kind>]` (the `pii` check's detector, every kind) before it reaches the database:
/// the record (every string of its JSON: messages, output, tool-call arguments, reference,
/// error, metadata) and quarantine excerpts. Checks run on the text as it arrived, before
/// redaction, so verdicts are the same either way; judges and `explain` see the redacted text.
public enum StoredRedaction {
    static let detector = PIIDetector()

    /// The record with its free-text fields redacted (what ingest keeps in memory beside the JSON).
    public static func record(_ record: TraceRecord) -> TraceRecord {
        var copy = record
        copy.input = record.input.map { TraceRecord.Message(role: $0.role, content: detector.redact($0.content)) }
        copy.output = record.output.map(detector.redact)
        copy.toolCalls = record.toolCalls.map { TraceRecord.ToolCall(name: $0.name, arguments: detector.redact($0.arguments)) }
        copy.reference = record.reference.map(detector.redact)
        copy.error = record.error.map(detector.redact)
        return copy
    }

    /// The record's JSON with every string value redacted (keys are the format's, not data).
    /// Text that is not JSON is redacted as text.
    public static func json(_ text: String) -> String {
        guard let value = try? JSONParser.parse(text) else { return detector.redact(text) }
        return redact(value).serialized()
    }

    /// Free text (a quarantine reason's detail, which may quote a field's value).
    public static func text(_ text: String) -> String { detector.redact(text) }

    /// A quarantined line's first bytes: redacted as text (the line is malformed, so not parsed).
    public static func excerpt(_ bytes: [UInt8]) -> [UInt8] {
        Array(detector.redact(String(decoding: bytes, as: UTF8.self)).utf8)
    }

    static func redact(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text): return .string(detector.redact(text))
        case .array(let items): return .array(items.map(redact))
        case .object(let members): return .object(members.map { ($0.0, redact($0.1)) })
        case .int(let number) where abs(number) >= 1_000_000:
            // A card or phone number written as a JSON number (`"phone": 4155550123`).
            let text = String(number)
            return detector.matches(in: text).isEmpty ? value : .string(detector.redact(text))
        default: return value
        }
    }
}
