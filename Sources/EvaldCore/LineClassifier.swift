import Foundation

/// Turns one spool line into what the ingest stage does with it: nothing (blank or not
/// in the sample), a sampled record, or a problem to quarantine.
///
/// The sampling decision comes first and needs only the trace id (and the route when
/// per-route rates exist), so the cost of an unsampled line is framing plus a short scan.
public struct LineClassifier: Sendable {
    public enum Outcome: Sendable {
        case blank
        case unsampled
        case sampled(TraceRecord, rate: Double)
        case otlp
        case malformed(LineProblem)
    }

    public let sampler: TraceSampler
    /// Walk every line's structure and required fields, not only the sampled ones', so that
    /// truncated or incomplete records are counted and quarantined whether sampled or not.
    public let validatesEveryLine: Bool

    public init(sampler: TraceSampler, validatesEveryLine: Bool = true) {
        self.sampler = sampler
        self.validatesEveryLine = validatesEveryLine
    }

    public func classify(_ line: UnsafeRawBufferPointer) -> Outcome {
        let scan = JSONLineScanner.scan(line, needRoute: sampler.hasRouteRates, walkAll: validatesEveryLine)
        switch scan.shape {
        case .blank: return .blank
        case .notAnObject: return .malformed(Self.problemOfNonObject(line))
        case .object: break
        }
        if scan.isOTLP { return .otlp }
        guard !scan.isBroken, let idRange = scan.traceID, !scan.traceIDHasEscapes, !idRange.isEmpty else {
            // Broken JSON, or no plain trace id at the top level: decode fully to say precisely
            // what is wrong (or to handle an escaped id correctly).
            return decodeAndDecide(line)
        }
        if validatesEveryLine, let missing = scan.missingRequiredField {
            return .malformed(NativeRecordDecoder.missingField(missing))
        }
        let randomness = TraceSampler.randomness(traceIDUTF8: UnsafeRawBufferPointer(rebasing: line[idRange]))
        guard sampler.shard.contains(randomness), randomness >= sampler.lowestThreshold else { return .unsampled }
        let rate: Double
        if sampler.hasRouteRates {
            if scan.routeHasEscapes { return decodeAndDecide(line) }
            rate = sampler.rate(forRouteUTF8: scan.route.map { UnsafeRawBufferPointer(rebasing: line[$0]) })
        } else {
            rate = sampler.globalRate
        }
        guard TraceSampler.isKept(randomness: randomness, rate: rate) else { return .unsampled }
        switch decode(line) {
        case .success(let record): return .sampled(record, rate: rate)
        case .failure(let problem): return .malformed(problem)
        }
    }

    /// The slow path: full decode first, then the decision from the decoded fields.
    private func decodeAndDecide(_ line: UnsafeRawBufferPointer) -> Outcome {
        switch decode(line) {
        case .failure(let problem):
            return .malformed(problem)
        case .success(let record):
            let randomness = TraceSampler.randomness(traceID: record.traceID)
            let rate = sampler.rate(forRoute: record.route)
            guard sampler.shard.contains(randomness), TraceSampler.isKept(randomness: randomness, rate: rate) else { return .unsampled }
            return .sampled(record, rate: rate)
        }
    }

    public func decode(_ line: UnsafeRawBufferPointer) -> Result<TraceRecord, LineProblem> {
        let object: Any
        do {
            object = try Self.parseJSON(line)
        } catch {
            return .failure(error)
        }
        guard let dictionary = object as? [String: Any] else {
            return .failure(LineProblem(.notAnObject, "line is JSON but not an object (\(Self.describeJSONType(object)))"))
        }
        do {
            return .success(try NativeRecordDecoder.decode(dictionary))
        } catch {
            return .failure(error)
        }
    }

    static func parseJSON(_ line: UnsafeRawBufferPointer) throws(LineProblem) -> Any {
        guard String(validating: line, as: UTF8.self) != nil else {
            throw LineProblem(.invalidUTF8, "line is not valid UTF-8")
        }
        do {
            return try JSONSerialization.jsonObject(with: Data(line), options: [.fragmentsAllowed])
        } catch {
            throw LineProblem(.invalidJSON, "line is not valid JSON: \(Self.describeParseError(error))")
        }
    }

    private static func problemOfNonObject(_ line: UnsafeRawBufferPointer) -> LineProblem {
        do {
            let object = try parseJSON(line)
            return LineProblem(.notAnObject, "line is JSON but not an object (\(describeJSONType(object)))")
        } catch {
            return error
        }
    }

    static func describeJSONType(_ value: Any) -> String {
        switch value {
        case is [Any]: return "an array"
        case is String: return "a string"
        case is NSNumber: return "a number or boolean"
        case is NSNull: return "null"
        default: return "\(type(of: value))"
        }
    }

    static func describeParseError(_ error: Error) -> String {
        let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
        return String(text.prefix(200))
    }
}
