import Foundation

/// What one LLM call adds to usage: the few fields every record contributes, sampled or not.
public struct CallUsage: Sendable, Equatable {
    /// Trace time, Unix seconds.
    public var timestamp: Double
    public var route: String?
    public var tenant: String?
    public var model: String
    /// Non-nil exactly when the call failed (`status: error`): `error.type`, or the native
    /// `error`'s first word, or `unknown`.
    public var errorClass: String?
    public var inputTokens: Int?
    public var outputTokens: Int?
    public var latencyMs: Double?
    public var costUSD: Double?
    /// The record id (the trace id; `traceId:spanId` for OTLP spans), named by budget crossings.
    public var recordID: String?

    public init(
        timestamp: Double, route: String?, tenant: String?, model: String, errorClass: String? = nil, inputTokens: Int? = nil,
        outputTokens: Int? = nil, latencyMs: Double? = nil, costUSD: Double? = nil, recordID: String? = nil
    ) {
        self.timestamp = timestamp
        self.route = route
        self.tenant = tenant
        self.model = model
        self.errorClass = errorClass
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.latencyMs = latencyMs
        self.costUSD = costUSD
        self.recordID = recordID
    }

    public init(record: TraceRecord) {
        self.init(
            timestamp: record.timestamp.timeIntervalSince1970, route: record.route, tenant: record.tenant, model: record.model,
            errorClass: record.status == .error ? Self.errorClass(of: record.error) : nil, inputTokens: record.inputTokens,
            outputTokens: record.outputTokens, latencyMs: record.latencyMs, costUSD: record.costUSD, recordID: record.recordID)
    }

    /// Longest error class kept: a class is a name, not a message.
    public static let errorClassLimit = 64

    /// The first word of an error message (`RateLimitError: slow down` gives `RateLimitError`),
    /// or `unknown` when there is none.
    public static func errorClass(of message: String?) -> String {
        guard let message else { return "unknown" }
        let word = message.drop { $0.isWhitespace }.prefix { !($0.isWhitespace || $0 == ":" || $0 == "," || $0 == "(" || $0 == ";") }
        return word.isEmpty ? "unknown" : String(word.prefix(errorClassLimit))
    }
}
