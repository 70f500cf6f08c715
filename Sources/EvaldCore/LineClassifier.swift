/// Turns one spool line into what the ingest stage does with it: nothing (blank or not
/// in the sample), a sampled record, or a problem to quarantine.
///
/// The sampling decision comes first and needs only the trace id (and the route when
/// per-route rates exist), so the cost of an unsampled line is framing plus a short scan.
#if canImport(Glibc)
    import Glibc
#endif

public struct LineClassifier: Sendable {
    public enum Outcome: Sendable {
        case blank
        case unsampled
        case sampled(TraceRecord, rate: Double)
        case otlp
        case malformed(LineProblem)
    }

    public let sampler: TraceSampler
    /// `spool.validate: all`: walk every line's structure and required fields, so that broken
    /// records are counted and quarantined whether sampled or not. Off by default, because it
    /// costs about twice the reading time (Benchmarks/RESULTS.md); without it an unsampled
    /// line is only checked for its trace id and for being cut short (not ending in `}`).
    public let validatesEveryLine: Bool

    public init(sampler: TraceSampler, validatesEveryLine: Bool = false) {
        self.sampler = sampler
        self.validatesEveryLine = validatesEveryLine
    }

    /// The classifier a configuration asks for (`sampling`, `spool.validate`).
    public init(config: EvaldConfig) {
        self.init(sampler: config.sampling.makeSampler(), validatesEveryLine: config.spool.validate == .all)
    }

    public func classify(_ line: UnsafeRawBufferPointer) -> Outcome {
        // The common case, a writer that puts a plain W3C trace id first: decide from the first
        // 46 bytes. Anything else (or a kept line) takes the general path below.
        // A trace under the lowest threshold is unsampled at every route's rate, so the route need
        // not be found (per-route and raised rates keep this path).
        if !validatesEveryLine, let randomness = Self.leadingTraceIDRandomness(line),
            !(sampler.shard.contains(randomness) && randomness >= sampler.lowestThreshold), Self.endsLikeAnObject(line)
        {
            return .unsampled
        }
        let scan = JSONLineScanner.scan(line, needRoute: sampler.hasRouteRates, walkAll: validatesEveryLine)
        switch scan.shape {
        case .blank: return .blank
        case .notAnObject: return .malformed(Self.problemOfNonObject(line))
        case .object: break
        }
        if scan.isOTLP { return .otlp }
        guard !scan.isBroken, validatesEveryLine || Self.endsLikeAnObject(line), let idRange = scan.traceID, !scan.traceIDHasEscapes, !idRange.isEmpty else {
            // Broken JSON, or no plain trace id at the top level: decode fully to say precisely
            // what is wrong (or to handle an escaped id correctly).
            return decodeAndDecide(line)
        }
        if validatesEveryLine {
            if let missing = scan.missingRequiredField { return .malformed(NativeRecordDecoder.missingField(missing)) }
            if scan.hasWrongTypedField || !Self.isValidUTF8(line) { return decodeAndDecide(line) }
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

    /// R of a line that starts `{"trace_id":"<32 hex digits>"`, else nil.
    @inline(__always)
    static func leadingTraceIDRandomness(_ line: UnsafeRawBufferPointer) -> UInt64? {
        let prefix: StaticString = "{\"trace_id\":\""
        let length = prefix.utf8CodeUnitCount
        guard line.count > length + 33, memcmp(line.baseAddress!, prefix.utf8Start, length) == 0,
            line[length + 32] == 0x22
        else { return nil }
        return TraceSampler.w3cRandomness(UnsafeRawBufferPointer(rebasing: line[length..<(length + 32)]))
    }

    /// Most lines are ASCII: look for a high byte eight bytes at a time before validating.
    static func isValidUTF8(_ line: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let count = line.count
        while i + 8 <= count {
            if line.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
            i += 8
        }
        while i < count, line[i] < 0x80 { i += 1 }
        return i == count || String(validating: UnsafeRawBufferPointer(rebasing: line[i...]), as: UTF8.self) != nil
    }

    /// A line cut short (the commonest producer failure: a crash mid-write) does not end in `}`.
    @inline(__always)
    static func endsLikeAnObject(_ line: UnsafeRawBufferPointer) -> Bool {
        var i = line.count - 1
        while i >= 0, line[i] == 0x20 || line[i] == 0x09 || line[i] == 0x0D { i -= 1 }
        return i >= 0 && line[i] == 0x7D
    }

    /// The slow path: full decode first, then the decision from the decoded fields.
    private func decodeAndDecide(_ line: UnsafeRawBufferPointer) -> Outcome {
        switch decode(line) {
        case .failure(let problem):
            return .malformed(problem)
        case .success(let record):
            guard let rate = sampler.keptRate(randomness: TraceSampler.randomness(traceID: record.traceID), route: record.route) else {
                return .unsampled
            }
            return .sampled(record, rate: rate)
        }
    }

    /// An OTLP/JSON line: every LLM span's sampling decision from its trace id (and `ot=rv`),
    /// then the kept ones mapped to records.
    public func decodeOTLP(_ line: UnsafeRawBufferPointer) -> Result<OTLPDecoder.Result, LineProblem> {
        do {
            let value = try Self.parseJSON(line)
            return .success(
                try OTLPDecoder.decode(value) { traceID, traceState, route in
                    sampler.keptRate(randomness: TraceSampler.randomness(traceID: traceID, traceState: traceState), route: route)
                })
        } catch {
            return .failure(error)
        }
    }

    public func decode(_ line: UnsafeRawBufferPointer) -> Result<TraceRecord, LineProblem> {
        do {
            return .success(try NativeRecordDecoder.decode(try Self.parseJSON(line)))
        } catch {
            return .failure(error)
        }
    }

    static func parseJSON(_ line: UnsafeRawBufferPointer) throws(LineProblem) -> JSONValue {
        guard String(validating: line, as: UTF8.self) != nil else {
            throw LineProblem(.invalidUTF8, "line is not valid UTF-8")
        }
        do {
            return try JSONParser.parse(line)
        } catch {
            throw LineProblem(.invalidJSON, "line is not valid JSON: \(error)")
        }
    }

    private static func problemOfNonObject(_ line: UnsafeRawBufferPointer) -> LineProblem {
        do {
            let value = try parseJSON(line)
            return LineProblem(.notAnObject, "line is JSON but not an object (\(value.typeName))")
        } catch {
            return error
        }
    }
}
