/// One OTLP `ExportTraceServiceRequest` as the receiver stores it: OTLP/JSON spans grouped by
/// resource and scope, each span checked on its own, then written as `TracesData` lines that
/// the spool reader decodes like the Collector's file exporter's (section 2.2).
///
/// A span is rejected (and counted in the answer's `partialSuccess`) only when evald cannot
/// key or place it: ids that are not 32 / 16 hex digits or are all zero, no
/// `startTimeUnixNano`, or a span longer on its own than a spool line may be. Spans that are
/// not LLM calls are kept: the reader counts them as skipped, as it does for files.
public struct OTLPExportBatch: Sendable {
    public struct Span: Sendable {
        public var key: OTLPSpanKey
        /// The span's OTLP/JSON, ids in lowercase hex.
        public var json: String
    }

    public struct Scope: Sendable {
        /// `"scope":...,"schemaUrl":...` as they came (without `spans`), already serialized.
        public var fields: String
        public var spans: [Span]
    }

    public struct Resource: Sendable {
        /// `"resource":...,"schemaUrl":...` (without `scopeSpans`), already serialized.
        public var fields: String
        public var scopes: [Scope]
    }

    public var resources: [Resource] = []
    /// Spans that cannot be stored, and the first reason.
    public var rejected = 0
    public var rejection: String?

    public var spanCount: Int { resources.reduce(0) { $0 + $1.scopes.reduce(0) { $0 + $1.spans.count } } }

    /// What a request body must be for the receiver to answer 400.
    public struct Problem: Error, Sendable, Equatable {
        public var message: String
        public init(_ message: String) { self.message = message }
    }

    /// `request`: the OTLP/JSON form of the request (`{"resourceSpans": [...]}`).
    public init(request: JSONValue) throws(Problem) {
        guard case .object(let top) = request else { throw Problem("the body must be a JSON object (an ExportTraceServiceRequest)") }
        guard let resourceSpans = top.first(where: { $0.0 == "resourceSpans" })?.1, resourceSpans != .null else { return }
        guard case .array(let resourceList) = resourceSpans else { throw Problem("\"resourceSpans\" must be an array") }
        for (r, resourceValue) in resourceList.enumerated() {
            guard case .object(let resourceFields) = resourceValue else { throw Problem("resourceSpans[\(r)] must be an object") }
            var resource = Resource(fields: Self.fields(resourceFields, without: "scopeSpans"), scopes: [])
            let scopeList = try Self.array(resourceFields, "scopeSpans", at: "resourceSpans[\(r)]")
            for (s, scopeValue) in scopeList.enumerated() {
                guard case .object(let scopeFields) = scopeValue else { throw Problem("resourceSpans[\(r)].scopeSpans[\(s)] must be an object") }
                var scope = Scope(fields: Self.fields(scopeFields, without: "spans"), spans: [])
                for (n, spanValue) in try Self.array(scopeFields, "spans", at: "resourceSpans[\(r)].scopeSpans[\(s)]").enumerated() {
                    guard case .object(let spanFields) = spanValue else {
                        throw Problem("resourceSpans[\(r)].scopeSpans[\(s)].spans[\(n)] must be an object")
                    }
                    switch Self.span(spanFields) {
                    case .success(let span): scope.spans.append(span)
                    case .failure(let reason):
                        rejected += 1
                        if rejection == nil { rejection = "resourceSpans[\(r)].scopeSpans[\(s)].spans[\(n)]: \(reason.message)" }
                    }
                }
                resource.scopes.append(scope)
            }
            resources.append(resource)
        }
    }

    private static func array(_ fields: [(String, JSONValue)], _ key: String, at path: String) throws(Problem) -> [JSONValue] {
        switch fields.first(where: { $0.0 == key })?.1 {
        case nil, .null?: return []
        case .array(let items)?: return items
        default: throw Problem("\(path).\(key) must be an array")
        }
    }

    private static func fields(_ fields: [(String, JSONValue)], without key: String) -> String {
        let kept = fields.filter { $0.0 != key }
        let object = JSONValue.object(kept).serialized()
        // `{...}` without its braces, to be followed by the list this receiver writes.
        return String(object.dropFirst().dropLast())
    }

    private static func span(_ fields: [(String, JSONValue)]) -> Result<Span, Problem> {
        func text(_ key: String) -> String? { fields.first { $0.0 == key }?.1.stringValue }
        guard let traceID = text("traceId"), let spanID = text("spanId"), let key = OTLPSpanKey(traceID: traceID, spanID: spanID) else {
            return .failure(Problem("traceId must be 32 and spanId 16 hex digits, not all zero"))
        }
        guard let start = OTLPDecoder.nanos(fields.first { $0.0 == "startTimeUnixNano" }?.1), start > 0 else {
            return .failure(Problem("startTimeUnixNano is missing"))
        }
        var normalized = fields
        for index in normalized.indices where ["traceId", "spanId", "parentSpanId"].contains(normalized[index].0) {
            if let id = normalized[index].1.stringValue { normalized[index].1 = .string(id.lowercased()) }
        }
        return .success(Span(key: key, json: JSONValue.object(normalized).serialized()))
    }

    /// One spool line (without its newline) and the keys of its spans.
    public struct Line: Sendable {
        public var text: String
        public var keys: [OTLPSpanKey]
    }

    /// The spans `keep` accepts (each key once), as `TracesData` lines, none longer than
    /// `lineLimit` bytes: one resource and one scope a line, spans split over as many lines as
    /// they need. A span that does not fit a line alone is left out and counted.
    public func lines(lineLimit: Int, keep: (OTLPSpanKey) -> Bool) -> (lines: [Line], oversized: Int) {
        var lines: [Line] = []
        var seen = Set<OTLPSpanKey>()
        var oversized = 0
        for resource in resources {
            for scope in resource.scopes {
                let head =
                    #"{"resourceSpans":[{"# + resource.fields + (resource.fields.isEmpty ? "" : ",") + #""scopeSpans":[{"# + scope.fields
                    + (scope.fields.isEmpty ? "" : ",") + #""spans":["#
                let tail = "]}]}]}"
                var line = Line(text: head, keys: [])
                for span in scope.spans where !seen.contains(span.key) && keep(span.key) {
                    seen.insert(span.key)
                    if head.utf8.count + span.json.utf8.count + tail.utf8.count > lineLimit {
                        oversized += 1
                        continue
                    }
                    if !line.keys.isEmpty, line.text.utf8.count + 1 + span.json.utf8.count + tail.utf8.count > lineLimit {
                        line.text += tail
                        lines.append(line)
                        line = Line(text: head, keys: [])
                    }
                    line.text += (line.keys.isEmpty ? "" : ",") + span.json
                    line.keys.append(span.key)
                }
                if !line.keys.isEmpty {
                    line.text += tail
                    lines.append(line)
                }
            }
        }
        return (lines, oversized)
    }

    /// The keys of the spans of a line this receiver wrote (or any TracesData line), for the
    /// window of a restarted receiver.
    public static func keys(ofLine line: JSONValue) -> [OTLPSpanKey] {
        var keys: [OTLPSpanKey] = []
        for resource in line["resourceSpans"]?.arrayValue ?? [] {
            for scope in resource["scopeSpans"]?.arrayValue ?? [] {
                for span in scope["spans"]?.arrayValue ?? [] {
                    if let trace = span["traceId"]?.stringValue, let id = span["spanId"]?.stringValue, let key = OTLPSpanKey(traceID: trace, spanID: id) {
                        keys.append(key)
                    }
                }
            }
        }
        return keys
    }
}
