/// A string member as the usage scan found it: its bytes in the line when plain (checked to be
/// UTF-8), or its text when it has escapes (decoded by the JSON parser; names seldom have any).
public enum ScannedText: Sendable, Equatable {
    /// The range between the quotes.
    case bytes(Range<Int>)
    case text(String)

    /// Nil when `range` is not a string value, or not valid UTF-8, or its escapes are broken.
    init?(_ b: UnsafeRawBufferPointer, _ range: Range<Int>) {
        guard b[range.lowerBound] == 0x22, range.count >= 2 else { return nil }
        let content = (range.lowerBound + 1)..<(range.upperBound - 1)
        if JSONLineScanner.contains(b, content, 0x5C) {
            guard let text = UsageScanner.string(b, range) else { return nil }
            self = .text(text)
            return
        }
        guard JSONLineScanner.isASCII(b, content) || String(validating: UnsafeRawBufferPointer(rebasing: b[content]), as: UTF8.self) != nil
        else { return nil }
        self = .bytes(content)
    }

    var isEmpty: Bool {
        switch self {
        case .bytes(let range): range.isEmpty
        case .text(let text): text.isEmpty
        }
    }

    /// The text, in the line `b` it was scanned from.
    public func string(in b: UnsafeRawBufferPointer) -> String {
        switch self {
        case .bytes(let range): String(decoding: UnsafeRawBufferPointer(rebasing: b[range]), as: UTF8.self)
        case .text(let text): text
        }
    }

    /// The text's UTF-8 bytes, in the line `b` it was scanned from.
    func withUTF8<R>(in b: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch self {
        case .bytes(let range):
            return body(UnsafeRawBufferPointer(rebasing: b[range]))
        case .text(let text):
            var text = text
            return text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        }
    }
}

/// What `UsageScanner.read` finds in a native line: `CallUsage` with its texts left in the line,
/// so that ingest adds every unsampled call to its batch without making a String for it.
public struct ScannedUsage: Sendable, Equatable {
    public var timestamp: Double
    public var route: ScannedText?
    public var tenant: ScannedText?
    public var model: ScannedText
    /// `status: error`: the caller decodes such lines fully (failed calls are stored).
    public var isError: Bool
    public var error: ScannedText?
    public var inputTokens: Int?
    public var outputTokens: Int?
    public var latencyMs: Double?
    public var costUSD: Double?
    /// Read only when asked for (budgets name the record that crosses them).
    public var recordID: ScannedText?
    public var traceID: ScannedText
    public var promptVersion: ScannedText?
    /// A top-level `kind` member: perhaps a feedback line, which the caller reads as such.
    public var hasKind: Bool
    /// The value of a `feedback` member that is not null (`FeedbackLineReader.read(_:in:)`).
    public var feedback: Range<Int>?

    /// The same call with its texts made Strings; `b` is the line it was scanned from.
    public func callUsage(in b: UnsafeRawBufferPointer) -> CallUsage {
        CallUsage(
            timestamp: timestamp, route: route?.string(in: b), tenant: tenant?.string(in: b), model: model.string(in: b),
            errorClass: isError ? CallUsage.errorClass(of: error?.string(in: b)) : nil, inputTokens: inputTokens,
            outputTokens: outputTokens, latencyMs: latencyMs, costUSD: costUSD, recordID: recordID?.string(in: b))
    }
}
