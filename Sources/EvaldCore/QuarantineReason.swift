/// Why a spool line was quarantined. The raw value is a short, stable label for
/// counters and `--json`; `detail` strings carry the specifics for a person.
public enum QuarantineReason: String, Sendable, CaseIterable {
    case invalidJSON = "invalid_json"
    case invalidUTF8 = "invalid_utf8"
    case notAnObject = "not_an_object"
    case missingField = "missing_field"
    case invalidField = "invalid_field"
    case lineTooLong = "line_too_long"
    case incompleteLine = "incomplete_line"
    case unsupportedFormat = "unsupported_format"
}

/// A line that could not become a record, with what a person needs to fix its producer.
public struct LineProblem: Error, Sendable, Equatable {
    public var reason: QuarantineReason
    public var detail: String
    public init(_ reason: QuarantineReason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }
}
