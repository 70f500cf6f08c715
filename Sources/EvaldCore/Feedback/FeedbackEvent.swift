import Foundation

/// A user's signal about an answer: a thumb up or down, or a number (a star rating, a score).
public enum FeedbackValue: Sendable, Equatable {
    case thumb(up: Bool)
    case score(Double)

    /// `"up"` / `"down"` (and the aliases `thumbs_up`, `positive`, `thumbs_down`, `negative`),
    /// or a finite number; nil for anything else.
    public static func decode(_ value: JSONValue) -> FeedbackValue? {
        if let text = value.stringValue {
            switch text.lowercased() {
            case "up", "thumbs_up", "positive": return .thumb(up: true)
            case "down", "thumbs_down", "negative": return .thumb(up: false)
            default: return nil
            }
        }
        if let number = value.numberValue, number.isFinite { return .score(number) }
        return nil
    }
}

/// One piece of feedback as ingest counts it: from a feedback line or from a record's
/// `feedback` field, sampled or not.
public struct FeedbackEvent: Sendable, Equatable {
    public enum Source: String, Sendable {
        /// A `{"kind": "feedback", ...}` line.
        case line
        /// A native record's `feedback` field.
        case record
    }

    public var source: Source
    public var traceID: String?
    /// The feedback's time; nil when a feedback line has none (ingest time is used then).
    public var timestamp: Date?
    public var route: String
    /// "" when a feedback line names no model.
    public var model: String
    public var promptVersion: String?
    public var value: FeedbackValue

    public init(source: Source, traceID: String?, timestamp: Date?, route: String, model: String, promptVersion: String?, value: FeedbackValue) {
        self.source = source
        self.traceID = traceID
        self.timestamp = timestamp
        self.route = route
        self.model = model
        self.promptVersion = promptVersion
        self.value = value
    }
}

/// The feedback metrics: `feedback:thumbs` (the share of up among ups and downs) and
/// `feedback:score` (the mean of the numbers).
extension MetricName {
    public static let feedbackThumbs = "feedback:thumbs"
    public static let feedbackScore = "feedback:score"
}
